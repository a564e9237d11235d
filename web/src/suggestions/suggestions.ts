// Agents' suggestions (the document's `suggestions` root, schema version 2): reading
// them, grouping the open ones by task and measure, accepting and rejecting through the
// document (the server applies accepted ones: docs/score-schema.md, section 3).
import type * as Y from 'yjs'
import type { Json } from '../score/schema'

export type SuggestionStatus = 'draft' | 'pending' | 'accepted' | 'applied' | 'stale' | 'rejected'

export interface GhostNote {
  onset: string
  duration: string
  pitches: string[]
  staff: number
}

export interface Suggestion {
  id: string
  task: string
  agent: string
  measure: string
  part: string
  notes: GhostNote[]
  status: SuggestionStatus
  reason: string
  report: Report | null
}

export interface Report {
  before: Record<string, number>
  after: Record<string, number>
}

const STATUSES = new Set(['draft', 'pending', 'accepted', 'applied', 'stale', 'rejected'])

function counts(raw: unknown): Record<string, number> {
  const c = raw && typeof raw === 'object' ? (raw as { counts?: unknown }).counts : undefined
  const out: Record<string, number> = {}
  if (c && typeof c === 'object')
    for (const [k, v] of Object.entries(c)) if (typeof v === 'number') out[k] = v
  return out
}

/** Every readable suggestion (off-schema values skipped). */
export function readSuggestions(entries: Iterable<[string, unknown]>): Suggestion[] {
  const out: Suggestion[] = []
  for (const [id, raw] of entries) {
    if (!raw || typeof raw !== 'object') continue
    const r = raw as Record<string, unknown>
    if (typeof r.task !== 'string' || typeof r.measure !== 'string' || typeof r.part !== 'string')
      continue
    if (typeof r.status !== 'string' || !STATUSES.has(r.status)) continue
    const notes: GhostNote[] = Array.isArray(r.notes)
      ? r.notes.flatMap((n) => {
          if (!n || typeof n !== 'object') return []
          const v = n as Record<string, unknown>
          return [
            {
              onset: String(v.onset ?? '0'),
              duration: String(v.duration ?? '1'),
              pitches: Array.isArray(v.pitches)
                ? v.pitches.filter((p): p is string => typeof p === 'string')
                : [],
              staff: typeof v.staff === 'number' ? v.staff : 1,
            },
          ]
        })
      : []
    const report =
      r.report && typeof r.report === 'object'
        ? {
            before: counts((r.report as { before?: unknown }).before),
            after: counts((r.report as { after?: unknown }).after),
          }
        : null
    out.push({
      id,
      task: r.task,
      agent: typeof r.agent === 'string' ? r.agent : '',
      measure: r.measure,
      part: r.part,
      notes,
      status: r.status as SuggestionStatus,
      reason: typeof r.reason === 'string' ? r.reason : '',
      report,
    })
  }
  return out
}

/** Suggestions shown as tracked changes: still being written or waiting for review. */
export function isOpen(s: Suggestion): boolean {
  return s.status === 'pending' || s.status === 'draft'
}

export interface TaskReview {
  task: string
  agent: string
  reason: string
  report: Report | null
  /** measures in score order, each with its open suggestion ids */
  measures: { measure: string; ids: string[]; pending: boolean }[]
}

/** Open suggestions grouped by task, then by measure in score order. */
export function reviews(all: readonly Suggestion[], measureOrder: readonly string[]): TaskReview[] {
  const order = new Map(measureOrder.map((m, i) => [m, i]))
  const tasks = new Map<string, TaskReview>()
  for (const s of all.filter(isOpen)) {
    let t = tasks.get(s.task)
    if (!t) {
      t = { task: s.task, agent: s.agent, reason: s.reason, report: s.report, measures: [] }
      tasks.set(s.task, t)
    }
    let m = t.measures.find((x) => x.measure === s.measure)
    if (!m) {
      m = { measure: s.measure, ids: [], pending: true }
      t.measures.push(m)
    }
    m.ids.push(s.id)
    if (s.status !== 'pending') m.pending = false
  }
  for (const t of tasks.values())
    t.measures.sort((a, b) => (order.get(a.measure) ?? 1e9) - (order.get(b.measure) ?? 1e9))
  return [...tasks.values()]
}

/** Accept: status `accepted` (and `by`) on each pending suggestion, in one transaction. */
export function accept(
  doc: Y.Doc,
  map: Y.Map<Json>,
  ids: readonly string[],
  by: string,
  origin: unknown,
): number {
  let n = 0
  doc.transact(() => {
    for (const id of ids) {
      const v = map.get(id)
      if (!v || typeof v !== 'object' || Array.isArray(v) || v.status !== 'pending') continue
      map.set(id, { ...v, status: 'accepted', by })
      n++
    }
  }, origin)
  return n
}

/** Reject: delete the entries, in one transaction. */
export function reject(
  doc: Y.Doc,
  map: Y.Map<Json>,
  ids: readonly string[],
  origin: unknown,
): void {
  doc.transact(() => {
    for (const id of ids) if (map.has(id)) map.delete(id)
  }, origin)
}

const LABELS: Record<string, string> = {
  parallel_fifths: 'parallel 5ths',
  parallel_octaves: 'parallel 8ves',
  hidden_fifths: 'hidden 5ths',
  hidden_octaves: 'hidden 8ves',
  crossing: 'crossings',
  overlap: 'overlaps',
  spacing: 'spacing',
  range: 'range',
}

/** The rule report as short lines: `parallel 5ths 0 (before 2)`. */
export function reportLines(report: Report | null): string[] {
  if (!report) return []
  return Object.keys(LABELS)
    .filter((k) => k in report.after || k in report.before)
    .map((k) => `${LABELS[k]} ${report.after[k] ?? 0} (before ${report.before[k] ?? 0})`)
}

const STEPS: Record<string, number> = { C: 0, D: 1, E: 2, F: 3, G: 4, A: 5, B: 6 }
/** The diatonic index of the top staff line per clef (F5 for treble). */
const TOP_LINE: Record<string, number> = {
  treble: 38,
  treble8vb: 31,
  treble8va: 45,
  bass: 26,
  bass8vb: 19,
  alto: 32,
  tenor: 30,
  soprano: 35,
  'mezzo-soprano': 33,
  baritone: 28,
  percussion: 26,
}

/** Half staff-spaces below the top line where a pitch sits (0 = on the top line). */
export function stepsBelowTop(pitch: string, clef: string): number | null {
  const m = /^([A-G])(?:#{1,3}|-{1,3})?(\d)$/.exec(pitch)
  if (!m) return null
  const index = Number(m[2]) * 7 + (STEPS[m[1] ?? 'C'] ?? 0)
  return (TOP_LINE[clef] ?? 38) - index
}
