// A JavaScript yjs peer for tests/score_model/test_yjs_interop.py.
//
// Usage: node tests/node/schema_interop.mjs
// Reads one JSON request per line on stdin and writes one JSON reply per line on stdout:
//   {"cmd": "reset", "client_id": 7}            start a fresh Y.Doc (optional fixed client id)
//   {"cmd": "apply", "update": "<base64>"}      apply a Yjs update (from Python)
//   {"cmd": "state_vector"}                     -> {"state_vector": "<base64>"}
//   {"cmd": "encode", "state_vector": "<b64>"}  -> {"update": "<base64>"} (diff; all if omitted)
//   {"cmd": "read"}                             -> the score read through the schema
//   {"cmd": "dump"}                             -> every root as JSON
//   {"cmd": "build"}                            -> build a score per the schema; its ids
//   {"cmd": "edit", "ops": [...]}               -> apply edits (one transaction per op)
//   {"cmd": "undeclared", "update": "<b64>"}    -> what a client sees without the right roots
// Errors come back as {"error": "..."}; the process never exits on bad input.
import * as Y from 'yjs'
import { createInterface } from 'node:readline'
import * as S from './schema.mjs'

let doc = new Y.Doc()
S.roots(doc)

const toB64 = bytes => Buffer.from(bytes).toString('base64')
const fromB64 = text => {
  if (typeof text !== 'string') throw new Error('expected a base64 string')
  return new Uint8Array(Buffer.from(text, 'base64'))
}

function build () {
  // Numbers are plain JS numbers (voice: 2 arrives in Python as 2.0); fractions are strings.
  const ids = S.createScore(doc, {
    title: 'Gebaut in JS ♪',
    composer: 'Node',
    parts: [
      { name: 'Flute', abbreviation: 'Fl.', instrument: 'Flute', program: 73, clef: 'treble' },
      { name: 'Piano', program: 0, staves: 2 }
    ],
    measures: 2,
    time: '3/4'
  })
  const [m1, m2] = ids.measures
  const [fl, pno] = ids.parts
  doc.transact(() => {
    S.setMeasureAttribute(doc, m1, 'key', { fifths: -2, mode: 'major' })
    S.setMeasureAttribute(doc, m1, 'tempo', { bpm: 72.5, beat: '1', text: 'Andante' })
    S.setMeasureAttribute(doc, m2, 'time', '6/8')
    S.setMeasureAttribute(doc, m2, 'barline', 'final')
    S.setMeasureAttribute(doc, m2, 'repeat', 'end')
    S.roots(doc).meta.set('tempo', { bpm: 72.5, beat: '1' })
  })
  const notes = {}
  const add = (name, note) => { notes[name] = S.addNote(doc, note) }
  doc.transact(() => {
    // flute, bar 1 (3/4): a triplet, a grace note, then a tied half note with a lyric
    add('t1', { measure: m1, part: fl, onset: '0', duration: '1/3', pitches: ['B-4'], dynamic: 'mp' })
    add('t2', { measure: m1, part: fl, onset: '1/3', duration: '1/3', pitches: ['C5'] })
    add('t3', { measure: m1, part: fl, onset: '2/3', duration: '1/3', pitches: ['D5'], articulations: ['staccato'] })
    add('grace', { measure: m1, part: fl, onset: '1', duration: '0', pitches: ['F5'], grace: true })
    add('half', { measure: m1, part: fl, onset: '1', duration: '2', pitches: ['E-5'], ties: ['start'],
      lyric: 'Freu — "dé"', articulations: ['tenuto', 'accent'] })
    // flute, bar 2 (6/8): the tie ends, then a rest
    add('stop', { measure: m2, part: fl, onset: '0', duration: '3/2', pitches: ['E-5'], ties: ['stop'] })
    add('rest', { measure: m2, part: fl, onset: '3/2', duration: '3/2' })
    // piano, bar 1: a chord with one tied pitch, and a second voice on the lower staff
    add('chord', { measure: m1, part: pno, onset: '0', duration: '3', pitches: ['B-2', 'F3', 'D4'],
      ties: [null, 'start', null], dynamic: 'p' })
    add('voice2', { measure: m1, part: pno, onset: '1/2', duration: '1/2', pitches: ['B-1'], voice: 2, staff: 2 })
    add('voice2b', { measure: m1, part: pno, onset: '1', duration: '2', pitches: [], voice: 2, staff: 2 })
  })
  // version 3 marks: a slur over the triplet, a crescendo to the half note, a trill with a
  // fingering, and a second verse under the half note
  S.addSpan(doc, 'slurs', notes.t1, notes.t3)
  S.addSpan(doc, 'hairpins', notes.t1, notes.half, 'crescendo')
  S.updateNote(doc, notes.half, { ornaments: ['trill'], fingerings: ['3'], verses: ['Zwei'] })
  // version 4: the triplet as a 3:2 group of eighths showing its ratio without a bracket,
  // and chord symbols over the flute (B flat, then F7 over A)
  notes.tuplet = S.setTuplet(doc, [notes.t1, notes.t2, notes.t3], 3, 2, { unit: '1/2', bracket: false, number: 'ratio' })
  S.setChordSymbol(doc, m1, { part: fl, onset: '1', root: 'F', kind: 'dominant', bass: 'A', text: '7' })
  S.setChordSymbol(doc, m1, { part: fl, onset: '0', root: 'B-', kind: 'major' })
  // Off-contract but tolerated: a client that wrote fractions as JS numbers.
  const sloppy = S.newId('n')
  S.roots(doc).notes.set(sloppy, { measure: m2, part: pno, onset: 0, duration: 3, pitches: ['F3'], ties: ['stop'], voice: 1 })
  notes.sloppy = sloppy
  S.postChat(doc, 'ada', 'Hallo aus dem Browser 🎵')
  notes.comment = S.addComment(doc, 'ada', 'breathe here', { measure: m1, part: fl, onset: '1' })
  return { ...ids, notes }
}

function edit (ops) {
  if (!Array.isArray(ops)) throw new Error('ops must be a list')
  return ops.map(op => {
    switch (op.op) {
      case 'set_pitches': return S.updateNote(doc, op.note, { pitches: op.pitches })
      case 'update_note': return S.updateNote(doc, op.note, op.changes)
      case 'delete_note': return S.deleteNote(doc, op.note)
      case 'add_note': return S.addNote(doc, op.note)
      case 'insert_measure': return S.insertMeasure(doc, op.index, op.attributes ?? {})
      case 'set_measure': return S.setMeasureAttribute(doc, op.measure, op.name, op.value)
      case 'set_tuplet': return S.setTuplet(doc, op.notes, op.actual, op.normal, op.display ?? {})
      case 'set_chord_symbol': return S.setChordSymbol(doc, op.measure, op.symbol)
      case 'move_measure': return S.moveMeasure(doc, op.measure, op.index)
      case 'delete_measure': return S.deleteMeasure(doc, op.measure)
      case 'remove_duplicate_measures': return S.removeDuplicateMeasures(doc)
      case 'accept_suggestion': return S.acceptSuggestion(doc, op.id, op.by, op.measures ?? null)
      case 'accept_task': return S.acceptTask(doc, op.task, op.by)
      case 'reject_suggestion': return S.rejectSuggestion(doc, op.id)
      case 'open_suggestions': return S.openSuggestions(doc)
      default: throw new Error(`unknown op ${JSON.stringify(op.op)}`)
    }
  }).map(result => result ?? null)
}

function undeclared (update) {
  // A client that forgets to declare the roots, or declares one with the wrong type.
  const bare = new Y.Doc()
  Y.applyUpdate(bare, update)
  const withoutDeclaring = bare.toJSON()
  const notesAsArray = bare.getArray('notes')
  let redeclareError = null
  try { bare.getMap('notes') } catch (e) { redeclareError = e.message }
  return { without_declaring: withoutDeclaring, notes_as_array: notesAsArray.toJSON(), redeclare_error: redeclareError }
}

function handle (request) {
  switch (request.cmd) {
    case 'reset':
      doc = new Y.Doc()
      if (request.client_id != null) doc.clientID = request.client_id
      S.roots(doc)
      return {}
    case 'apply': Y.applyUpdate(doc, fromB64(request.update), 'python'); return {}
    case 'state_vector': return { state_vector: toB64(Y.encodeStateVector(doc)) }
    case 'encode': {
      const sv = request.state_vector == null ? undefined : fromB64(request.state_vector)
      return { update: toB64(Y.encodeStateAsUpdate(doc, sv)) }
    }
    case 'read': return S.readScore(doc)
    case 'dump': return S.dump(doc)
    case 'build': return build()
    case 'edit': return { results: edit(request.ops) }
    case 'undeclared': return undeclared(fromB64(request.update))
    default: throw new Error(`unknown command ${JSON.stringify(request.cmd)}`)
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  let reply
  try {
    reply = handle(JSON.parse(line))
  } catch (e) {
    reply = { error: String(e?.message ?? e) }
  }
  process.stdout.write(JSON.stringify(reply) + '\n')
}
