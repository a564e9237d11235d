import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Json } from '../score/schema'
import { snapshotFromJson } from '../score/model'
import {
  addComment,
  commentPlace,
  openPerMeasure,
  readComments,
  setResolved,
  threads,
} from './comments'

describe('comments', () => {
  it('adds, replies, threads in score order and resolves', () => {
    const doc = new Y.Doc()
    const map = doc.getMap<Json>('comments')
    const late = addComment(doc, map, 'Bob', 'bar two', { measure: 'm_2' }, null)
    const first = addComment(
      doc,
      map,
      'Alice',
      ' too loud ',
      { measure: 'm_1', part: 'p_1', onset: '1/2' },
      null,
    )
    const reply = addComment(
      doc,
      map,
      'Bob',
      'agreed',
      { measure: 'm_1', part: 'p_1' },
      null,
      first,
    )
    expect(first).toMatch(/^k_/)
    expect(map.get(first)).toMatchObject({
      author: 'Alice',
      text: 'too loud',
      measure: 'm_1',
      part: 'p_1',
      onset: '1/2',
      resolved: false,
    })
    expect(map.get(reply)).toMatchObject({ reply_to: first })
    const list = threads(readComments(map.entries()), ['m_1', 'm_2'])
    expect(list.map((t) => [t.root.id, t.replies.map((r) => r.id)])).toEqual([
      [first, [reply]],
      [late, []],
    ])
    expect([...openPerMeasure(list)]).toEqual([
      ['m_1', 1],
      ['m_2', 1],
    ])
    setResolved(doc, map, first, true, null)
    expect(map.get(first)).toMatchObject({ resolved: true, text: 'too loud' })
    const after = threads(readComments(map.entries()), ['m_1', 'm_2'])
    expect([...openPerMeasure(after)]).toEqual([['m_2', 1]])
  })

  it('keeps a reply whose thread was deleted as a thread of its own', () => {
    const doc = new Y.Doc()
    const map = doc.getMap<Json>('comments')
    map.set('k_orphan', { author: 'a', text: 'x', measure: 'm_1', reply_to: 'k_gone' })
    map.set('k_bad', { author: 'a' })
    expect(threads(readComments(map.entries()), ['m_1']).map((t) => t.root.id)).toEqual([
      'k_orphan',
    ])
  })
})

describe('where a comment points', () => {
  const snap = snapshotFromJson({
    parts: [{ id: 'p_1' }, { id: 'p_2' }],
    measures: [{ id: 'm_1', time: '4/4' }, { id: 'm_2' }],
    notes: {
      n_a: { measure: 'm_2', part: 'p_1', onset: '1/2', duration: '1/2', pitches: ['C4'] },
      n_b: { measure: 'm_2', part: 'p_2', onset: '1/2', duration: '1/2', pitches: ['E4'] },
    },
  })

  it('is its note, found by id or by part and onset, else its bar', () => {
    expect(commentPlace({ measure: 'm_2', part: 'p_2', onset: '1/2' }, snap)).toEqual({
      noteIds: ['n_b'],
      measureId: 'm_2',
      partId: 'p_2',
    })
    expect(commentPlace({ measure: 'm_2', note: 'n_a' }, snap)?.noteIds).toEqual(['n_a'])
    // A note id from another bar (the note moved) is not taken.
    expect(commentPlace({ measure: 'm_1', note: 'n_a', part: 'p_1' }, snap)).toEqual({
      noteIds: [],
      measureId: 'm_1',
      partId: 'p_1',
    })
    expect(commentPlace({ measure: 'm_1' }, snap)).toEqual({
      noteIds: [],
      measureId: 'm_1',
      partId: null,
    })
    expect(commentPlace({ measure: 'm_9' }, snap)).toBeNull()
    expect(commentPlace('text', snap)).toBeNull()
    expect(commentPlace(undefined, snap)).toBeNull()
  })
})
