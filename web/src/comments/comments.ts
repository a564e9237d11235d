// Comments anchored to measures (and optionally a part and an onset, i.e. a note): the
// document's `comments` root. A reply is a comment with `reply_to` naming the thread's
// first comment, anchored where it is; a comment is replaced whole when edited.
import type * as Y from 'yjs'
import { newId, type Json } from '../score/schema'
import type { ScoreSnapshot } from '../score/model'

export interface Comment {
  id: string
  author: string
  text: string
  measure: string
  part: string | null
  onset: string | null
  resolved: boolean
  time: string
  replyTo: string | null
}

export interface Thread {
  root: Comment
  replies: Comment[]
}

export function readComments(entries: Iterable<[string, unknown]>): Comment[] {
  const out: Comment[] = []
  for (const [id, raw] of entries) {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) continue
    const r = raw as Record<string, unknown>
    if (typeof r.text !== 'string' || typeof r.measure !== 'string') continue
    out.push({
      id,
      author: typeof r.author === 'string' ? r.author : '',
      text: r.text,
      measure: r.measure,
      part: typeof r.part === 'string' ? r.part : null,
      onset: typeof r.onset === 'string' ? r.onset : null,
      resolved: r.resolved === true,
      time: typeof r.time === 'string' ? r.time : '',
      replyTo: typeof r.reply_to === 'string' ? r.reply_to : null,
    })
  }
  return out
}

/** Threads in score order (then time); replies oldest first. A reply whose thread is
 * gone starts a thread of its own. */
export function threads(comments: readonly Comment[], measureOrder: readonly string[]): Thread[] {
  const order = new Map(measureOrder.map((m, i) => [m, i]))
  const byId = new Map(comments.map((c) => [c.id, c]))
  const roots = comments.filter((c) => !c.replyTo || !byId.has(c.replyTo))
  const byTime = (a: Comment, b: Comment) =>
    a.time.localeCompare(b.time) || a.id.localeCompare(b.id)
  return roots
    .sort((a, b) => (order.get(a.measure) ?? 1e9) - (order.get(b.measure) ?? 1e9) || byTime(a, b))
    .map((root) => ({
      root,
      replies: comments.filter((c) => c.replyTo === root.id).sort(byTime),
    }))
}

export interface Anchor {
  measure: string
  part?: string | null
  onset?: string | null
}

function now(): string {
  return new Date().toISOString().slice(0, 19) + '+00:00'
}

/** Add a comment (or a reply to `replyTo`); returns its id. */
export function addComment(
  doc: Y.Doc,
  map: Y.Map<Json>,
  author: string,
  text: string,
  anchor: Anchor,
  origin: unknown,
  replyTo?: string,
): string {
  const id = newId('k')
  const value: { [k: string]: Json } = {
    author,
    text: text.trim().slice(0, 10000),
    measure: anchor.measure,
    resolved: false,
    time: now(),
  }
  if (anchor.part) value.part = anchor.part
  if (anchor.onset) value.onset = anchor.onset
  if (replyTo) value.reply_to = replyTo
  doc.transact(() => map.set(id, value), origin)
  return id
}

/** Resolve (or reopen) a thread: its first comment is replaced with `resolved` set. */
export function setResolved(
  doc: Y.Doc,
  map: Y.Map<Json>,
  id: string,
  resolved: boolean,
  origin: unknown,
): void {
  const v = map.get(id)
  if (!v || typeof v !== 'object' || Array.isArray(v)) return
  doc.transact(() => map.set(id, { ...v, resolved }), origin)
}

/** Open threads per measure id (for the markers on the score). */
export function openPerMeasure(list: readonly Thread[]): Map<string, number> {
  const out = new Map<string, number>()
  for (const t of list)
    if (!t.root.resolved) out.set(t.root.measure, (out.get(t.root.measure) ?? 0) + 1)
  return out
}

/** Where a comment points in the score (`raw`: its value in the document): the note it
 * is anchored to (by id, else by part and onset), else its bar. `null`: no such bar. */
export function commentPlace(
  raw: unknown,
  snapshot: Pick<ScoreSnapshot, 'notes' | 'byMeasure' | 'measures'>,
): { noteIds: string[]; measureId: string; partId: string | null } | null {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return null
  const r = raw as Record<string, unknown>
  const measure = typeof r.measure === 'string' ? r.measure : null
  if (measure === null || !snapshot.measures.some((m) => m.id === measure)) return null
  const part = typeof r.part === 'string' ? r.part : null
  const byId = typeof r.note === 'string' ? snapshot.notes.get(r.note) : undefined
  const note =
    byId?.measure === measure
      ? byId
      : [...(snapshot.byMeasure.get(measure) ?? [])]
          .map((id) => snapshot.notes.get(id))
          .find((n) => n && part !== null && n.part === part && n.onset === r.onset)
  return { noteIds: note ? [note.id] : [], measureId: measure, partId: note?.part ?? part }
}
