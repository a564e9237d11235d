// Where a search result takes you: a score, the notes to select and the bar to show,
// carried in the score page's address (`/scores/s_1?select=n_1,n_2&bar=m_3&part=p_1`).
export interface Focus {
  scoreId: string
  /** Notes to select (the matched melody); may be empty. */
  noteIds: string[]
  /** The bar to show when there are no notes to select. */
  measureId: string | null
  partId: string | null
}

const ID = /^[A-Za-z0-9_.-]{1,64}$/

export function focusUrl(focus: Focus): string {
  const params = new URLSearchParams()
  if (focus.noteIds.length) params.set('select', focus.noteIds.join(','))
  if (focus.measureId) params.set('bar', focus.measureId)
  if (focus.partId) params.set('part', focus.partId)
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
  if (noteIds.length === 0 && measureId === null) return null
  return { scoreId, noteIds, measureId, partId: part && ID.test(part) ? part : null }
}
