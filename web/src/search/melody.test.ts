import { describe, expect, it } from 'vitest'
import { snapshotFromJson } from '../score/model'
import { barsLabel, percent, selectionMelody, typedNotes } from './melody'
import { focusUrl, readFocus } from './focus'

// Two bars of 4/4: soprano E E F G | (G+C chord) half, F half tied into... ; alto below.
const doc = {
  meta: { title: 'Ode', schema_version: 2 },
  parts: [
    { id: 'p_s', name: 'Soprano' },
    { id: 'p_a', name: 'Alto' },
  ],
  measures: [{ id: 'm_1', time: '4/4' }, { id: 'm_2' }, { id: 'm_3' }],
  notes: {
    n_4: { measure: 'm_1', part: 'p_s', onset: '3', duration: '1', pitches: ['G4'] },
    n_1: { measure: 'm_1', part: 'p_s', onset: '0', duration: '1', pitches: ['E4'] },
    n_2: { measure: 'm_1', part: 'p_s', onset: '1', duration: '1', pitches: ['E4'] },
    n_3: { measure: 'm_1', part: 'p_s', onset: '2', duration: '1', pitches: ['F4'] },
    n_5: { measure: 'm_2', part: 'p_s', onset: '0', duration: '2', pitches: ['C4', 'G4'] },
    n_6: {
      measure: 'm_2',
      part: 'p_s',
      onset: '2',
      duration: '2',
      pitches: ['F4'],
      ties: ['start'],
    },
    n_7: {
      measure: 'm_3',
      part: 'p_s',
      onset: '0',
      duration: '1/2',
      pitches: ['F4'],
      ties: ['stop'],
    },
    n_r: { measure: 'm_3', part: 'p_s', onset: '1/2', duration: '1/2', pitches: [] },
    n_g: { measure: 'm_3', part: 'p_s', onset: '1', duration: '0', pitches: ['A4'], grace: true },
    n_8: { measure: 'm_3', part: 'p_s', onset: '1', duration: '1', pitches: ['B-4'] },
    a_1: { measure: 'm_1', part: 'p_a', onset: '0', duration: '4', pitches: ['C4'] },
  },
}

describe('the melody of a selection', () => {
  const snap = snapshotFromJson(doc)

  it('reads one line in time order as the server indexes it', () => {
    const all = [...snap.notes.keys()] // every note, the alto's one included, in any order
    const melody = selectionMelody(snap, all)
    expect(melody).toEqual({
      // chord: its top; tie: lengthened; rest and grace note: skipped; the alto: another line
      notes: ['E4', 'E4', 'F4', 'G4', 'G4', 'F4', 'B-4'],
      durations: ['1', '1', '1', '1', '2', '5/2', '1'],
      part: 'p_s',
      voice: 1,
    })
  })

  it('is null without a pitched note, and takes the line holding most notes', () => {
    expect(selectionMelody(snap, ['n_r', 'n_g', 'gone'])).toBeNull()
    expect(selectionMelody(snap, ['a_1'])?.notes).toEqual(['C4'])
    expect(selectionMelody(snap, ['a_1', 'n_1', 'n_2'])?.part).toBe('p_s')
  })
})

describe('typed notes and labels', () => {
  it('accepts note names, with or without octaves, and says what is wrong', () => {
    expect(typedNotes('E4, e4 F#4 Gb  B-3')).toEqual({
      notes: ['E4', 'e4', 'F#4', 'Gb', 'B-3'],
      error: null,
    })
    expect(typedNotes('E4 E4 H4 G4').error).toMatch(/"H4" is not a note name/)
    expect(typedNotes('E4 F4 G4').error).toMatch(/4 to 64 notes \(you gave 3\)/)
  })

  it('labels bars and similarity', () => {
    expect(barsLabel([3])).toBe('bar 3')
    expect(barsLabel([4, 3, 5])).toBe('bars 3–5')
    expect(barsLabel([])).toBe('bars ?')
    expect(percent(0.8333)).toBe('83%')
  })
})

describe('the focus a search result carries', () => {
  it('round-trips through the address and drops what is not an id', () => {
    const focus = { scoreId: 's_1', noteIds: ['n_1', 'n_2'], measureId: 'm_3', partId: 'p_1' }
    const url = focusUrl(focus)
    expect(url).toBe('/scores/s_1?select=n_1%2Cn_2&bar=m_3&part=p_1')
    expect(readFocus('s_1', url.slice(url.indexOf('?')))).toEqual(focus)
    expect(readFocus('s_1', '?select=n_1,<x>&part=p_1')).toEqual({
      scoreId: 's_1',
      noteIds: ['n_1'],
      measureId: null,
      partId: 'p_1',
    })
    expect(readFocus('s_1', '?link=abc')).toBeNull()
    expect(focusUrl({ scoreId: 's_2', noteIds: [], measureId: null, partId: null })).toBe(
      '/scores/s_2',
    )
  })
})
