// Reading the analysis events' result into overlay data.
import { describe, expect, it } from 'vitest'
import { contourLevels, isPairIssue, readAnalysis } from './result'

const env = (name: string, result: unknown) => ({
  analysis: name,
  version: 'e1.4',
  format: 1,
  result,
})

const EVENT = {
  score_id: 's',
  version: 'e1.4',
  result: {
    version: 'e1.4',
    analyses: {
      key: env('key', {
        measures: [
          { measure: 'm1', number: 1, key: 'C major', label: 'C major' },
          { measure: 'm2', number: 2, key: 'C major', label: 'C major' },
          { measure: 'm3', number: 3, key: 'G major', label: 'G major' },
        ],
        modulations: [
          { measure: 'm3', number: 3, from: 'C major', to: 'G major', label: 'to G major' },
        ],
      }),
      harmony: env('harmony', {
        slices: [
          { measure: 'm1', onset: '0', figure: 'I', key: 'C major', attack: true },
          { measure: 'm1', onset: '1', figure: 'I', key: 'C major', attack: true },
          { measure: 'm1', onset: '2', figure: 'V', key: 'C major', attack: false },
          { measure: 'm2', onset: '0', figure: null, key: 'C major', attack: true },
          { measure: 'm2', onset: '3/2', figure: 'V7', key: 'C major', attack: true },
        ],
        cadences: [
          {
            type: 'authentic',
            measure: 'm3',
            onset: '0',
            figures: ['V7', 'I'],
            label: 'perfect authentic cadence',
          },
        ],
      }),
      voice_leading: env('voice_leading', {
        issues: [
          {
            type: 'parallel_fifths',
            label: 'parallel fifths',
            measure: 'm2',
            onset: '0',
            notes: ['a', 'b', 'c', 'd'],
          },
        ],
      }),
      melody: env('melody', {
        parts: [
          {
            part: 'p1',
            name: 'Soprano',
            contour: 'UUDR',
            ambitus: { lowest: 'C4', highest: 'G4' },
          },
        ],
      }),
      rhythm: env('rhythm', {
        parts: ['p1'],
        measures: [
          { measure: 'm1', density: [1] },
          { measure: 'gone', density: [2] },
        ],
      }),
    },
  },
}

describe('readAnalysis', () => {
  const view = readAnalysis(EVENT, ['m1', 'm2', 'm3'])

  it('merges measures of one key into spans', () => {
    expect(view.version).toBe('e1.4')
    expect(view.keys).toEqual([
      { start: 0, end: 2, key: 'C major', label: 'C major' },
      { start: 2, end: 3, key: 'G major', label: 'G major' },
    ])
    expect(view.modulations).toEqual([{ measure: 'm3', label: 'to G major' }])
  })

  it('keeps attacked figures, once per repeated chord', () => {
    expect(view.romans.map((r) => `${r.measure}@${r.onset}:${r.figure}`)).toEqual([
      'm1@0:I',
      'm2@3/2:V7',
    ])
  })

  it('abbreviates cadences and keeps voice-leading notes', () => {
    expect(view.cadences[0]).toMatchObject({ short: 'PAC', figures: ['V7', 'I'], measure: 'm3' })
    expect(view.issues[0]?.notes).toEqual(['a', 'b', 'c', 'd'])
    expect(isPairIssue('parallel_fifths')).toBe(true)
    expect(isPairIssue('crossing')).toBe(false)
  })

  it('reads contours and drops density of unknown measures', () => {
    expect(view.contours[0]).toMatchObject({ contour: 'UUDR', ambitus: 'C4–G4' })
    expect(view.density.measures.map((m) => m.measure)).toEqual(['m1'])
  })

  it('draws nothing from an error or empty result', () => {
    const empty = readAnalysis({ result: { error: 'boom' } }, ['m1'])
    expect(empty.romans).toEqual([])
    expect(empty.keys).toEqual([])
    expect(readAnalysis(null, []).issues).toEqual([])
  })
})

describe('contourLevels', () => {
  it('steps up, down and repeats', () => {
    expect(contourLevels('UUDRX')).toEqual([0, 1, 2, 1, 1])
  })
})
