// The mapping between the document and the rendered elements: every note, chord and
// rest is drawn under its schema id, and an edit changes only its own system's key.
import { describe, expect, it, beforeAll } from 'vitest'
import * as Y from 'yjs'
import createVerovioModule from 'verovio/wasm'
import { VerovioToolkit } from 'verovio/esm'
import { ScoreModel } from '../score/model'
import { newScoreJson, noteValue, readNote, roots } from '../score/schema'
import { layoutSystems, systemMei } from './layout'
import { engrave, VEROVIO_OPTIONS } from './engrave'
import { chordSymbolText, durationPieces, schemaIdOf, tupletPieces } from './mei'
import { frac } from '../score/fraction'
import { engraved } from './cache'
import { setToolkit } from './toolkit'

let tk: VerovioToolkit
beforeAll(async () => {
  tk = new VerovioToolkit(await createVerovioModule())
  tk.setOptions(VEROVIO_OPTIONS)
  setToolkit(tk)
})

function buildScore(measures = 24): {
  doc: Y.Doc
  model: ScoreModel
  ids: { parts: string[]; measures: string[] }
} {
  const json = newScoreJson({
    title: 'T',
    parts: [{ name: 'Violin' }, { name: 'Piano', staves: 2 }],
    measures,
    time: '3/4',
    key: -2,
  })
  const doc = new Y.Doc()
  const r = roots(doc)
  doc.transact(() => {
    for (const [k, v] of Object.entries(json.meta as Record<string, string>)) r.meta.set(k, v)
    for (const p of json.parts as Record<string, string>[])
      r.parts.push([new Y.Map(Object.entries(p))])
    for (const m of json.measures as Record<string, string>[])
      r.measures.push([new Y.Map(Object.entries(m))])
  })
  const model = new ScoreModel(doc, 'local')
  return {
    doc,
    model,
    ids: {
      parts: model.snapshot.parts.map((p) => p.id),
      measures: model.snapshot.measures.map((m) => m.id),
    },
  }
}

describe('durationPieces', () => {
  it('writes dotted and tied values', () => {
    expect(durationPieces(frac(3, 2)).map((p) => [p.dur, p.dots])).toEqual([['4', 1]])
    expect(durationPieces(frac(5, 1)).map((p) => [p.dur, p.dots])).toEqual([
      ['1', 0],
      ['4', 0],
    ])
    expect(durationPieces(frac(1, 3))[0]).toMatchObject({ dur: '8', num: 3, numbase: 2 })
  })
})

describe('schema-4 values', () => {
  it('writes a tuplet note by its written value and the group ratio', () => {
    const note = readNote('n_x', {
      measure: 'm',
      part: 'p',
      onset: '0',
      duration: '1/3',
      pitches: ['C4'],
      tuplets: [{ id: 'u_1', actual: 6, normal: 4 }],
    })
    expect(tupletPieces(note)).toEqual([
      { dur: '8', dots: 0, num: 6, numbase: 4, length: frac(1, 3) },
    ])
    expect(() =>
      readNote('n_y', { measure: 'm', part: 'p', onset: '0', duration: '1', tuplets: [{}] }),
    ).toThrow()
  })

  it('spells chord symbols as lead sheets do', () => {
    expect(chordSymbolText({ part: 'p', onset: '0', root: 'E-', kind: 'major-seventh' })).toBe(
      'E\u266dmaj7',
    )
    expect(
      chordSymbolText({
        part: 'p',
        onset: '0',
        root: 'G',
        kind: 'dominant',
        degrees: [{ type: 'add', value: 9, alter: -1 }],
      }),
    ).toBe('G7add\u266d9')
    expect(chordSymbolText({ part: 'p', onset: '0', root: null, kind: 'none' })).toBe('N.C.')
  })
})

describe('rendering', () => {
  it('draws every note, chord and rest under its schema id', () => {
    const { doc, model, ids } = buildScore()
    const notes = roots(doc).notes
    const [violin, piano] = ids.parts as [string, string]
    const [m0, m1] = ids.measures as [string, string]
    const want: Record<string, string> = {
      n_note00000001: 'note',
      n_chord0000001: 'chord',
      n_rest00000001: 'rest',
      n_tied00000001: 'note',
      n_lyric0000001: 'note',
      n_grace0000001: 'note',
    }
    doc.transact(() => {
      notes.set(
        'n_note00000001',
        noteValue({
          measure: m0,
          part: violin,
          onset: '0',
          duration: '1',
          pitches: ['B-4'],
          dynamic: 'mf',
          articulations: ['staccato'],
        }) as never,
      )
      notes.set(
        'n_chord0000001',
        noteValue({
          measure: m0,
          part: violin,
          onset: '1',
          duration: '1',
          pitches: ['D5', 'F5'],
        }) as never,
      )
      notes.set(
        'n_rest00000001',
        noteValue({ measure: m0, part: violin, onset: '2', duration: '1', pitches: [] }) as never,
      )
      notes.set(
        'n_tied00000001',
        noteValue({
          measure: m1,
          part: piano,
          staff: 2,
          onset: '0',
          duration: '5/2',
          pitches: ['E-3'],
          ties: ['start'],
        }) as never,
      )
      notes.set(
        'n_lyric0000001',
        noteValue({
          measure: m1,
          part: violin,
          onset: '0',
          duration: '3',
          pitches: ['C5'],
          lyric: 'la',
          voice: 2,
        }) as never,
      )
      notes.set(
        'n_grace0000001',
        noteValue({
          measure: m1,
          part: piano,
          onset: '0',
          duration: '0',
          grace: true,
          pitches: ['G4'],
        }) as never,
      )
    })
    const system = layoutSystems(model.snapshot, 60)[0]
    if (!system) throw new Error('no system')
    const out = engraved(model.snapshot, system, 1200)
    if (!out) throw new Error('not engraved')
    const dom = new DOMParser().parseFromString(out.svg, 'image/svg+xml')
    for (const [id, kind] of Object.entries(want)) {
      const el = dom.querySelector(`g[id="${id}"]`)
      expect(el, id).not.toBeNull()
      expect(el?.getAttribute('class')).toContain(kind)
    }
    // The notes inside a chord map back to the chord's id.
    const inner = dom.querySelector('g[id="n_chord0000001"] g.note')
    expect(schemaIdOf(inner?.id ?? '')).toBe('n_chord0000001')
    // A clicked staff maps to its cell.
    const staff = dom.querySelector(`g.staff[id="${m1}.s3"]`)
    expect(out.cells.get(staff?.id ?? '')).toEqual({ measure: m1, part: piano, staff: 2 })
    expect(dom.querySelectorAll('g.dynam').length).toBe(1)
    expect(dom.querySelectorAll('g.tie').length).toBeGreaterThanOrEqual(1)
  })

  it('draws the schema-3 marks: slurs, hairpins, ornaments, fingerings, verses, clefs', () => {
    const { doc, model, ids } = buildScore()
    const notes = roots(doc).notes
    const [violin, piano] = ids.parts as [string, string]
    const [m0, m1] = ids.measures as [string, string]
    const base = { measure: m0, part: violin, duration: '1' }
    doc.transact(() => {
      notes.set(
        'n_a0000000001',
        noteValue({
          ...base,
          onset: '0',
          pitches: ['C5'],
          slurs: ['start'],
          hairpins: ['crescendo'],
          fingerings: ['3'],
          lyric: 'one',
          verses: [null, 'three'],
        }) as never,
      )
      notes.set(
        'n_b0000000001',
        noteValue({
          ...base,
          onset: '1',
          pitches: ['D5'],
          hairpins: ['stop'],
          ornaments: ['trill', 'inverted-mordent'],
        }) as never,
      )
      notes.set(
        'n_c0000000001',
        noteValue({ ...base, measure: m1, onset: '0', pitches: ['E5'], slurs: ['stop'] }) as never,
      )
      notes.set(
        'n_d0000000001',
        noteValue({
          measure: m1,
          part: piano,
          staff: 2,
          onset: '1',
          duration: '1',
          pitches: ['C4'],
          clef: 'treble',
        }) as never,
      )
    })
    const read = model.snapshot.notes
    expect(read.get('n_a0000000001')?.verses).toEqual([null, 'three'])
    const system = layoutSystems(model.snapshot, 60)[0]
    if (!system) throw new Error('no system')
    const mei = systemMei(model.snapshot, system).mei
    expect(mei).toContain('<slur ')
    expect(mei).toContain('form="cres"')
    expect(mei).toContain('<verse n="3">')
    const out = engraved(model.snapshot, system, 1200)
    if (!out) throw new Error('not engraved')
    const dom = new DOMParser().parseFromString(out.svg, 'image/svg+xml')
    expect(dom.querySelectorAll('g.slur').length).toBe(1)
    expect(dom.querySelectorAll('g.hairpin').length).toBe(1)
    expect(dom.querySelectorAll('g.trill').length).toBe(1)
    expect(dom.querySelectorAll('g.mordent').length).toBe(1)
    expect(dom.querySelectorAll('g.fing').length).toBe(1)
    expect(dom.querySelectorAll('g.verse').length).toBe(2)
    expect(dom.querySelectorAll('g.clef').length).toBeGreaterThanOrEqual(4) // 3 staves + change
  })

  it('draws the schema-4 tuplets with their ratio and bracket, and chord symbols', () => {
    const { doc, model, ids } = buildScore()
    const notes = roots(doc).notes
    const [violin] = ids.parts as [string, string]
    const [m0] = ids.measures as [string, string]
    const ratio = { id: 'u_q00000000001', actual: 3, normal: 2, unit: '1/2', bracket: false }
    const hidden = { id: 'u_q00000000002', actual: 5, normal: 4, number: 'none' as const }
    doc.transact(() => {
      ;['C5', 'D5', 'E5'].forEach((pitch, i) =>
        notes.set(
          `n_t${i}0000000001`,
          noteValue({
            measure: m0,
            part: violin,
            onset: `${i}/3`,
            duration: '1/3',
            pitches: [pitch],
            tuplets: [{ ...ratio, number: 'ratio' }],
          }) as never,
        ),
      )
      ;['F5', 'G5', 'A5', 'B5', 'C6'].forEach((pitch, i) =>
        notes.set(
          `n_f${i}0000000001`,
          noteValue({
            measure: m0,
            part: violin,
            onset: `${5 + i}/5`,
            duration: '1/5',
            pitches: [pitch],
            tuplets: [{ ...hidden, unit: null, bracket: true }],
          }) as never,
        ),
      )
      const measure = roots(doc).measures.get(0)
      measure.set('chord_symbols', [
        { part: violin, onset: '0', root: 'B-', kind: 'dominant', bass: 'D', text: '7' },
        { part: violin, onset: '1', root: 'F#', kind: 'minor-seventh' },
        { part: violin, onset: '2', root: null, kind: 'none' },
      ])
    })
    const read = model.snapshot.notes.get('n_t00000000001')
    expect(read?.tuplets).toEqual([{ ...ratio, number: 'ratio' }])
    expect(model.snapshot.measures[0]?.chordSymbols?.length).toBe(3)
    const system = layoutSystems(model.snapshot, 60)[0]
    if (!system) throw new Error('no system')
    const mei = systemMei(model.snapshot, system).mei
    expect(mei).toContain(
      '<tuplet xml:id="n_t00000000001.u0" num="3" numbase="2" bracket.visible="false" num.format="ratio">',
    )
    expect(mei).toContain('num="5" numbase="4" bracket.visible="true" num.visible="false"')
    expect(mei).toContain('>B<rend glyph.auth="smufl">\uE260</rend>7/D</harm>')
    expect(mei).toContain(
      'tstamp="2" place="above">F<rend glyph.auth="smufl">\uE262</rend>m7</harm>',
    )
    const out = engraved(model.snapshot, system, 1200)
    if (!out) throw new Error('not engraved')
    const dom = new DOMParser().parseFromString(out.svg, 'image/svg+xml')
    expect(dom.querySelectorAll('g.tuplet').length).toBe(2)
    expect(dom.querySelectorAll('g.harm').length).toBe(3)
    for (const id of ['n_t00000000001', 'n_f40000000001'])
      expect(dom.querySelector(`g[id="${id}"]`), id).not.toBeNull()
  })

  it('an edit changes the key of its own system only', () => {
    const { doc, model, ids } = buildScore(40)
    const before = layoutSystems(model.snapshot, 40)
    expect(before.length).toBeGreaterThan(3)
    const target = before[2]
    if (!target) throw new Error('no system')
    const measure = ids.measures[target.start] as string
    let dirty: Set<string> | 'all' = new Set()
    model.subscribe((d) => {
      dirty = d
    })
    roots(doc).notes.set(
      'n_x0000000001',
      noteValue({
        measure,
        part: ids.parts[0] as string,
        onset: '0',
        duration: '1',
        pitches: ['A4'],
      }) as never,
    )
    expect(dirty).toEqual(new Set([measure]))
    const after = layoutSystems(model.snapshot, 40)
    const changed = after.filter((s, i) => s.key !== before[i]?.key).map((s) => s.index)
    expect(changed).toEqual([2])
    // and that system's MEI has the note
    expect(systemMei(model.snapshot, after[2] as typeof target).mei).toContain('n_x0000000001')
    expect(engrave(tk, systemMei(model.snapshot, after[2] as typeof target).mei)).toContain(
      'id="n_x0000000001"',
    )
  })
})
