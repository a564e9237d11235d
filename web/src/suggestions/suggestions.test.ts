import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Json } from '../score/schema'
import { accept, readSuggestions, reject, reportLines, reviews, stepsBelowTop } from './suggestions'

function sug(
  task: string,
  measure: string,
  part: string,
  status = 'pending',
): { [k: string]: Json } {
  return {
    task,
    agent: 'aureon',
    measure,
    part,
    notes: [{ onset: '0', duration: '4', pitches: ['D4', 'G4'] }],
    base: '0123456789abcdef',
    status,
    reason: 'Aureon: 4-part harmonisation',
    report: {
      before: { counts: { parallel_fifths: 2 }, score: 3 },
      after: { counts: { parallel_fifths: 0, crossing: 1 }, score: 0 },
    },
  }
}

function fixture() {
  const doc = new Y.Doc()
  const map = doc.getMap<Json>('suggestions')
  map.set('g_1', sug('t_a', 'm_2', 'p_alto'))
  map.set('g_2', sug('t_a', 'm_1', 'p_alto'))
  map.set('g_3', sug('t_a', 'm_1', 'p_bass'))
  map.set('g_4', sug('t_a', 'm_3', 'p_bass', 'draft'))
  map.set('g_5', sug('t_b', 'm_1', 'p_alto', 'applied'))
  map.set('g_6', { task: 't_c', status: 'bogus', measure: 'm_1', part: 'p' })
  return { doc, map }
}

describe('suggestions', () => {
  it('groups open suggestions by task and measure in score order', () => {
    const { map } = fixture()
    const all = readSuggestions(map.entries())
    expect(all).toHaveLength(5)
    const [t] = reviews(all, ['m_1', 'm_2', 'm_3'])
    expect(reviews(all, [])).toHaveLength(1) // applied ones are not open
    expect(t?.measures.map((m) => [m.measure, m.ids.sort(), m.pending])).toEqual([
      ['m_1', ['g_2', 'g_3'], true],
      ['m_2', ['g_1'], true],
      ['m_3', ['g_4'], false],
    ])
    expect(all.find((s) => s.id === 'g_1')?.notes[0]).toEqual({
      onset: '0',
      duration: '4',
      pitches: ['D4', 'G4'],
      staff: 1,
    })
  })

  it('accepts pending ones (status and by, one transaction) and rejects by deleting', () => {
    const { doc, map } = fixture()
    let transactions = 0
    doc.on('afterTransaction', () => transactions++)
    expect(accept(doc, map, ['g_2', 'g_3', 'g_4', 'g_5'], 'alice', null)).toBe(2)
    expect(transactions).toBe(1)
    expect(map.get('g_2')).toMatchObject({ status: 'accepted', by: 'alice' })
    expect(map.get('g_4')).toMatchObject({ status: 'draft' })
    expect(map.get('g_5')).toMatchObject({ status: 'applied' })
    reject(doc, map, ['g_1', 'g_missing'], null)
    expect(map.has('g_1')).toBe(false)
  })

  it('reports the rule counts after and before', () => {
    const { map } = fixture()
    const [s] = readSuggestions(map.entries())
    expect(reportLines(s?.report ?? null)).toEqual([
      'parallel 5ths 0 (before 2)',
      'crossings 1 (before 0)',
    ])
  })

  it('places pitches on the staff by clef', () => {
    expect(stepsBelowTop('F5', 'treble')).toBe(0)
    expect(stepsBelowTop('E4', 'treble')).toBe(8)
    expect(stepsBelowTop('F#4', 'treble')).toBe(7)
    expect(stepsBelowTop('A3', 'bass')).toBe(0)
    expect(stepsBelowTop('G2', 'bass')).toBe(8)
    expect(stepsBelowTop('C4', 'alto')).toBe(4)
    expect(stepsBelowTop('H4', 'treble')).toBeNull()
  })
})
