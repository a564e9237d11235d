// Where things are on the engraved page, for layers drawn over the score: every note
// element carries its schema id, every measure its measure id, every staff
// `<measure id>.s<n>` (render/mei.ts). Coordinates are relative to a given box.
import type { ScoreSnapshot } from '../score/model'
import { parseFraction, toNumber } from '../score/fraction'

export interface Box {
  left: number
  top: number
  right: number
  bottom: number
}

const byId = (root: ParentNode, id: string): Element | null =>
  root.querySelector(`g[id="${CSS.escape(id)}"]`)

function relative(r: DOMRect, origin: DOMRect): Box {
  return {
    left: r.left - origin.left,
    top: r.top - origin.top,
    right: r.right - origin.left,
    bottom: r.bottom - origin.top,
  }
}

/** A note's head (its element if it has none), relative to `origin`. */
export function noteBox(root: ParentNode, id: string, origin: DOMRect): Box | null {
  const el = byId(root, id)
  if (!el) return null
  const head = el.querySelector('.notehead') ?? el
  return relative(head.getBoundingClientRect(), origin)
}

/** The staff `n` (1-based over all parts) of a measure. */
export function staffBox(
  root: ParentNode,
  measure: string,
  n: number,
  origin: DOMRect,
): Box | null {
  const el = byId(root, `${measure}.s${n}`)
  if (!el) return null
  // The staff lines (the group's own paths), not the notes on ledger lines around them.
  const lines = [...el.querySelectorAll(':scope > path')].map((p) => p.getBoundingClientRect())
  if (lines.length === 0) return relative(el.getBoundingClientRect(), origin)
  const top = Math.min(...lines.map((r) => r.top))
  const bottom = Math.max(...lines.map((r) => r.bottom))
  const whole = el.getBoundingClientRect()
  return relative(new DOMRect(whole.left, top, whole.width, bottom - top), origin)
}

/** Ids of the measures drawn under `root` (on screen or near it). */
export function drawnMeasures(root: ParentNode): Set<string> {
  const ids = new Set<string>()
  root.querySelectorAll('g.measure[id]').forEach((m) => ids.add(m.id))
  return ids
}

/** Anchors (onset in quarters -> x) of a measure: its notes' heads, its two ends. */
export function onsetAnchors(
  root: ParentNode,
  snap: ScoreSnapshot,
  measure: string,
  length: number,
  origin: DOMRect,
): [number, number][] | null {
  const el = byId(root, measure)
  if (!el) return null
  const box = relative(el.getBoundingClientRect(), origin)
  const found = new Map<number, number>()
  for (const id of snap.byMeasure.get(measure) ?? []) {
    const n = snap.notes.get(id)
    if (!n || n.grace) continue
    const head = noteBox(root, id, origin)
    if (!head) continue
    const onset = toNumber(parseFraction(n.onset))
    found.set(onset, Math.min(found.get(onset) ?? Infinity, head.left))
  }
  const anchors = [...found.entries()].sort((a, b) => a[0] - b[0])
  const first = anchors[0]
  if (!first || first[0] > 0)
    anchors.unshift([0, first ? Math.max(box.left, first[1] - 30) : box.left + 24])
  anchors.push([length, box.right - 4])
  return anchors
}

/** x of an onset, interpolated between the anchors. */
export function xAt(anchors: [number, number][], onset: number): number {
  let prev = anchors[0] ?? [0, 0]
  for (const a of anchors) {
    if (a[0] >= onset) {
      if (a[0] === prev[0]) return a[1]
      return prev[1] + ((onset - prev[0]) / (a[0] - prev[0])) * (a[1] - prev[1])
    }
    prev = a
  }
  return prev[1]
}

/** Number of staves over all parts (the lowest staff's n). */
export function staffCount(snap: ScoreSnapshot): number {
  return snap.parts.reduce((s, p) => s + p.staves, 0)
}
