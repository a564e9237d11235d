import { describe, expect, it } from 'vitest'
import { focusUrl, readFocus, textFocus, type Focus } from './focus'
import type { SemanticHit, TextHit } from './client'

const hit = (kind: TextHit['kind'], ref: string): TextHit => ({
  score_id: 's_1',
  title: 'Theme',
  kind,
  ref,
  text: 'text',
  rank: 1,
})

describe('search focus', () => {
  it('opens a comment, a chat message or the analysis beside the score', () => {
    expect(textFocus(hit('comment', 'k_abc'))).toEqual({
      scoreId: 's_1',
      noteIds: [],
      measureId: null,
      partId: null,
      reveal: { kind: 'comment', id: 'k_abc' },
    })
    expect(textFocus(hit('chat', 'c_1')).reveal).toEqual({ kind: 'chat', id: 'c_1' })
    const analysis: SemanticHit = { ...hit('title', ''), kind: 'analysis', similarity: 0.5 }
    expect(textFocus(analysis).reveal).toEqual({ kind: 'analysis' })
    expect(textFocus(hit('lyrics', 'p_1')).partId).toBe('p_1')
    expect(textFocus(hit('title', '')).reveal).toBeUndefined()
    // A ref that is no id (a hostile index row) opens the score and nothing else.
    expect(textFocus(hit('comment', '"><img src=x>')).reveal).toBeUndefined()
  })

  it('round-trips through the address, dropping what is not an id', () => {
    const focus: Focus = {
      scoreId: 's_1',
      noteIds: ['n_1', 'n_2'],
      measureId: 'm_3',
      partId: 'p_1',
      reveal: { kind: 'comment', id: 'k_1' },
    }
    const url = focusUrl(focus)
    expect(url).toBe('/scores/s_1?select=n_1%2Cn_2&bar=m_3&part=p_1&show=comment%3Ak_1')
    expect(readFocus('s_1', url.split('?')[1] ?? '')).toEqual(focus)
    expect(readFocus('s_1', 'show=chat:c_9')).toEqual({
      scoreId: 's_1',
      noteIds: [],
      measureId: null,
      partId: null,
      reveal: { kind: 'chat', id: 'c_9' },
    })
    expect(readFocus('s_1', 'show=analysis')?.reveal).toEqual({ kind: 'analysis' })
    expect(readFocus('s_1', 'show=comment:a b')).toBeNull()
    expect(readFocus('s_1', 'show=settings:x')).toBeNull()
    expect(readFocus('s_1', '')).toBeNull()
  })
})
