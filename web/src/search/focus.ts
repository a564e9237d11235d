// Where a search result takes you: a score, the notes to select and the bar to show, and
// what to open beside it (the comment or chat message that matched, or the analysis),
// carried in the score page's address
// (`/scores/s_1?select=n_1,n_2&bar=m_3&part=p_1&show=comment:c_1`).
import type { SemanticHit, TextHit } from './client'

/** A side panel to open at an item: a comment thread, a chat message, the analysis. */
export type Reveal =
  { kind: 'comment'; id: string } | { kind: 'chat'; id: string } | { kind: 'analysis' }

export interface Focus {
  scoreId: string
  /** Notes to select (the matched melody); may be empty. */
  noteIds: string[]
  /** The bar to show when there are no notes to select. */
  measureId: string | null
  partId: string | null
  /** What to open beside the score (absent: nothing). */
  reveal?: Reveal | null
}

const ID = /^[A-Za-z0-9_.-]{1,64}$/

function revealParam(reveal: Reveal): string {
  return reveal.kind === 'analysis' ? 'analysis' : `${reveal.kind}:${reveal.id}`
}

function readReveal(value: string | null): Reveal | null {
  if (value === 'analysis') return { kind: 'analysis' }
  const [kind, id] = (value ?? '').split(':', 2)
  if ((kind === 'comment' || kind === 'chat') && id && ID.test(id)) return { kind, id }
  return null
}

export function focusUrl(focus: Focus): string {
  const params = new URLSearchParams()
  if (focus.noteIds.length) params.set('select', focus.noteIds.join(','))
  if (focus.measureId) params.set('bar', focus.measureId)
  if (focus.partId) params.set('part', focus.partId)
  if (focus.reveal) params.set('show', revealParam(focus.reveal))
  const query = params.toString()
  return `/scores/${focus.scoreId}${query ? `?${query}` : ''}`
}

/** The focus a score page's query string asks for (`null`: none); bad ids are dropped. */
export function readFocus(scoreId: string, search: string): Focus | null {
  const params = new URLSearchParams(search)
  const noteIds = (params.get('select') ?? '').split(',').filter((id) => ID.test(id))
  const bar = params.get('bar')
  const part = params.get('part')
  const measureId = bar && ID.test(bar) ? bar : null
  const reveal = readReveal(params.get('show'))
  if (noteIds.length === 0 && measureId === null && reveal === null) return null
  const partId = part && ID.test(part) ? part : null
  return { scoreId, noteIds, measureId, partId, ...(reveal ? { reveal } : {}) }
}

/** Where a words or meaning hit opens its score: at the comment or chat message that
 * matched, beside the analysis for an analysis summary, at the part for lyrics. */
export function textFocus(hit: TextHit | SemanticHit): Focus {
  const focus: Focus = { scoreId: hit.score_id, noteIds: [], measureId: null, partId: null }
  const ref = ID.test(hit.ref) ? hit.ref : null
  if ((hit.kind === 'comment' || hit.kind === 'chat') && ref)
    return { ...focus, reveal: { kind: hit.kind, id: ref } }
  if (hit.kind === 'analysis') return { ...focus, reveal: { kind: 'analysis' } }
  if (hit.kind === 'lyrics' && ref) return { ...focus, partId: ref }
  return focus
}
