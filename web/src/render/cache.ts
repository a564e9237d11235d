// Rendered systems by key: a system is engraved again only when its key changes (an
// edit in one of its measures, a change of parts, or a new context before it).
import type { ScoreSnapshot } from '../score/model'
import { engrave } from './engrave'
import { systemMei, type System } from './layout'
import type { CellRef } from './mei'
import { toolkit } from './toolkit'

export interface Engraved {
  svg: string
  cells: Map<string, CellRef>
  ms: number
}

const cache = new Map<string, Engraved>()
const LIMIT = 600

export const renderStats = { engraved: 0, lastMs: 0, totalMs: 0 }

export function engraved(snapshot: ScoreSnapshot, system: System, px: number): Engraved | null {
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
  renderStats.totalMs += ms
  cache.set(key, out)
  if (cache.size > LIMIT) {
    const first = cache.keys().next().value
    if (first !== undefined) cache.delete(first)
  }
  return out
}

export function clearRenderCache(): void {
  cache.clear()
}

/** A system already engraved (no work), or null. */
export function cachedOnly(system: System, px: number): Engraved | null {
  return cache.get(`${px}|${system.key}`) ?? null
}

// Systems appearing for the first time are engraved one per frame, so the first one is
// on screen after one engraving, not after every system in the viewport.
const queue: (() => void)[] = []
let scheduled = false
export function whenIdle(job: () => void): () => void {
  queue.push(job)
  if (!scheduled) {
    scheduled = true
    const run = (): void => {
      const next = queue.shift()
      next?.()
      if (queue.length) requestAnimationFrame(() => setTimeout(run, 0))
      else scheduled = false
    }
    requestAnimationFrame(() => setTimeout(run, 0))
  }
  return () => {
    const i = queue.indexOf(job)
    if (i >= 0) queue.splice(i, 1)
  }
}
