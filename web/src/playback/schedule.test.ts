// Timing of playback events: tempo marks, time signatures, ties, selections, mute/solo.
import { describe, expect, it } from 'vitest'
import { snapshotFromJson } from '../score/model'
import { audible, buildTimeline, positionAt, secondsAt, selectionSpan } from './schedule'

const note = (measure: string, onset: string, duration: string, pitches: string[], extra = {}) => ({
  measure,
  part: 'p1',
  onset,
  duration,
  pitches,
  ...extra,
})

const snap = snapshotFromJson({
  meta: { title: 'T', schema_version: 1, tempo: { bpm: 120 } },
  parts: [{ id: 'p1', name: 'Flute' }],
  measures: [
    { id: 'm1', time: '4/4' },
    { id: 'm2', time: '3/4', tempo: { bpm: 60 } },
    { id: 'm3' },
  ],
  notes: {
    a: note('m1', '0', '2', ['C4']),
    b: note('m1', '2', '2', ['E4'], { ties: ['start'] }),
    c: note('m2', '0', '1', ['E4'], { ties: ['stop'] }),
    d: note('m2', '1', '2', ['G4', 'B4']),
    e: note('m3', '0', '3', []),
  },
})

describe('buildTimeline', () => {
  const t = buildTimeline(snap)

  it('follows the tempo marks and time signatures', () => {
    expect(t.measures.map((m) => [m.seconds, m.length])).toEqual([
      [0, 4],
      [2, 3],
      [5, 3],
    ])
    expect(t.total).toBe(8)
  })

  it('sounds a tie as one note and skips rests', () => {
    const by = t.events.map((e) => [e.id, e.midi, e.time, e.duration])
    expect(by).toEqual([
      ['a', 60, 0, 1],
      ['b', 64, 1, 2],
      ['d', 67, 3, 2],
      ['d', 71, 3, 2],
    ])
  })

  it('maps seconds to positions and back', () => {
    expect(positionAt(t, 3.5)).toEqual({ measure: 1, onset: 1.5 })
    expect(secondsAt(t, 1, 1.5)).toBe(3.5)
    expect(positionAt(t, 0.5)).toEqual({ measure: 0, onset: 1 })
  })

  it('spans a selection from first attack to last release', () => {
    expect(selectionSpan(t, ['b', 'd'])).toEqual({ start: 1, end: 5 })
    expect(selectionSpan(t, ['nothing'])).toBeNull()
  })
})

describe('audible', () => {
  it('lets solo win over mute', () => {
    expect(audible('p1', new Set(['p1']), new Set())).toBe(false)
    expect(audible('p1', new Set(['p1']), new Set(['p1']))).toBe(true)
    expect(audible('p2', new Set(), new Set(['p1']))).toBe(false)
  })
})
