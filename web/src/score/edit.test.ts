// Editing commands write schema-clean values, and undo takes back only local changes.
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { Editor } from './edit'
import { frac } from './fraction'
import { LOCAL, type ScoreSession } from './session'
import { ScoreModel } from './model'
import { newScoreJson, roots } from './schema'

function fakeSession(doc: Y.Doc): ScoreSession {
  const model = new ScoreModel(doc, LOCAL)
  const r = model.roots
  const undo = new Y.UndoManager([r.notes, r.measures, r.parts, r.meta], {
    trackedOrigins: new Set([LOCAL]),
    captureTimeout: 0,
  })
  return {
    doc,
    model,
    undo,
    transact: (fn: () => void) => doc.transact(fn, LOCAL),
  } as unknown as ScoreSession
}

function setup() {
  const a = new Y.Doc()
  const b = new Y.Doc()
  a.on('update', (u: Uint8Array, origin: unknown) => {
    if (origin !== 'remote') Y.applyUpdate(b, u, 'remote')
  })
  b.on('update', (u: Uint8Array, origin: unknown) => {
    if (origin !== 'remote') Y.applyUpdate(a, u, 'remote')
  })
  const json = newScoreJson({
    title: 'T',
    parts: [{ name: 'Flute' }],
    measures: 2,
    time: '4/4',
    key: 1,
  })
  const r = roots(a)
  a.transact(() => {
    for (const p of json.parts as Record<string, string>[])
      r.parts.push([new Y.Map(Object.entries(p))])
    for (const m of json.measures as Record<string, string>[])
      r.measures.push([new Y.Map(Object.entries(m))])
  }, 'setup')
  return { a: fakeSession(a), b: fakeSession(b) }
}

describe('Editor', () => {
  it('enters notes in the key at the cursor and moves on, appending a bar at the end', () => {
    const { a } = setup()
    const ed = new Editor(a)
    const m = a.model.snapshot.measures
    let cursor = {
      measure: m[0]?.id ?? '',
      part: a.model.snapshot.parts[0]?.id ?? '',
      staff: 1,
      voice: 1,
      onset: '0',
    }
    const pitches: string[] = []
    for (const letter of ['F', 'G', 'A', 'B', 'C'] as const) {
      const pitch = ed.letterPitch(cursor, letter, pitches[pitches.length - 1] ?? null)
      pitches.push(pitch)
      const out = ed.enter(cursor, [pitch], frac(1))
      cursor = out.next
    }
    expect(pitches).toEqual(['F#4', 'G4', 'A4', 'B4', 'C5']) // G major: F is F#
    expect(a.model.snapshot.measures).toHaveLength(2)
    ed.enter(cursor, [], frac(4)) // a whole rest fills bar 2 and appends bar 3
    expect(a.model.snapshot.measures).toHaveLength(3)
    for (const raw of roots(a.doc).notes.values()) {
      expect(
        Object.keys(raw).every((k) =>
          ['measure', 'part', 'onset', 'duration', 'pitches'].includes(k),
        ),
      ).toBe(true)
    }
  })

  it("undo takes back only my own changes, never a collaborator's", () => {
    const { a, b } = setup()
    const m = a.model.snapshot.measures
    const part = a.model.snapshot.parts[0]?.id ?? ''
    const mine = new Editor(a).enter(
      { measure: m[0]?.id ?? '', part, staff: 1, voice: 1, onset: '0' },
      ['C5'],
      frac(1),
    ).id
    const theirs = new Editor(b).enter(
      { measure: m[1]?.id ?? '', part, staff: 1, voice: 1, onset: '0' },
      ['D5'],
      frac(1),
    ).id
    expect(a.model.snapshot.notes.has(theirs)).toBe(true)
    a.undo.undo()
    expect(a.model.snapshot.notes.has(mine)).toBe(false)
    expect(a.model.snapshot.notes.has(theirs)).toBe(true)
    expect(b.model.snapshot.notes.has(theirs)).toBe(true)
    a.undo.undo() // nothing more of mine: the collaborator's note stays
    expect(b.model.snapshot.notes.has(theirs)).toBe(true)
  })

  it('transposes by semitone, step and octave in the key', () => {
    const { a } = setup()
    const ed = new Editor(a)
    const m = a.model.snapshot.measures[0]?.id ?? ''
    const part = a.model.snapshot.parts[0]?.id ?? ''
    const { id } = ed.enter({ measure: m, part, staff: 1, voice: 1, onset: '0' }, ['E4'], frac(1))
    ed.transpose([id], 'step', 1)
    expect(a.model.snapshot.notes.get(id)?.pitches).toEqual(['F#4'])
    ed.transpose([id], 'semitone', 1)
    expect(a.model.snapshot.notes.get(id)?.pitches).toEqual(['G4'])
    ed.transpose([id], 'octave', -1)
    expect(a.model.snapshot.notes.get(id)?.pitches).toEqual(['G3'])
    ed.addChordTone(id, 'B')
    expect(a.model.snapshot.notes.get(id)?.pitches).toEqual(['G3', 'B3'])
  })
})
