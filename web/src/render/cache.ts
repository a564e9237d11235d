// Rendered systems by key: a system is engraved again only when its key changes (an
// edit in one of its measures, a change of parts, or a new context before it).
import type { ScoreSnapshot } from '../score/model'
import { engrave } from './engrave'
import { systemMei, type System } from './layout'
import type { CellRef } from './mei'
import { toolkit } from './toolkit'

export interface Engraved { svg: string, cells: Map<string, CellRef>, ms: number }

const cache = new Map<string, Engraved>()
const LIMIT = 600

export const renderStats = { engraved: 0, lastMs: 0 }

export function engraved (snapshot: ScoreSnapshot, system: System, px: number): Engraved | null {
  const key = `${px}|${system.key}`
  const hit = cache.get(key)
  if (hit) return hit
  if (toolkit === null) return null
  const t0 = performance.now()
  const { mei, cells } = systemMei(snapshot, system)
  const svg = engrave(toolkit, mei, px)
  const ms = performance.now() - t0
  const out = { svg, cells, ms }
  renderStats.engraved++
  renderStats.lastMs = ms
  cache.set(key, out)
  if (cache.size > LIMIT) {
    const first = cache.keys().next().value
    if (first !== undefined) cache.delete(first)
  }
  return out
}

export function clearRenderCache (): void { cache.clear() }
