// How a browser client reads and edits an Orpheus score with the JavaScript `yjs`
// library, following docs/score-schema.md (schema version 4). Small on purpose: copy what
// you need. Every edit runs in one `doc.transact` so it reaches others as one update.
import * as Y from 'yjs'

export const SCHEMA_VERSION = 4
export const MAX_DENOMINATOR = 4096
const ID_ALPHABET = '0123456789abcdefghijkmnpqrstuvwxyz' // no 'l' or 'o'

/** Declare every root with its type. Do this before reading: an undeclared or wrongly
 * declared root reads as empty (and a second, different declaration throws). */
export function roots (doc) {
  return {
    meta: doc.getMap('meta'),
    parts: doc.getArray('parts'),
    measures: doc.getArray('measures'),
    notes: doc.getMap('notes'),
    chat: doc.getArray('chat'),
    comments: doc.getMap('comments'),
    suggestions: doc.getMap('suggestions') // since version 2
  }
}

/** A new id such as `n_3kf9x0q2mz7w`: prefix p (part), m (measure), n (note), k (comment),
 * c (chat message), then 12 random characters. */
export function newId (prefix) {
  let out = prefix + '_'
  while (out.length < prefix.length + 13) {
    for (const byte of globalThis.crypto.getRandomValues(new Uint8Array(16))) {
      if (byte < 238 && out.length < prefix.length + 13) out += ID_ALPHABET[byte % 34]
    }
  }
  return out
}

// --- exact fractions of a quarter note, written as strings ----------------------------------

const gcd = (a, b) => (b === 0 ? Math.abs(a) : gcd(b, a % b))

/** Read "1/2", "3", "0.25" or a JS number into [numerator, denominator] in lowest terms.
 * Non-integral numbers become the nearest fraction with a denominator up to 4096. */
export function parseFraction (value) {
  let n, d
  const text = typeof value === 'string' ? value.trim() : null
  if (typeof value === 'number' && Number.isInteger(value)) {
    [n, d] = [value, 1]
  } else if (text !== null && /^[-+]?\d+(\s*\/\s*\d+)?$/.test(text)) {
    [n, d] = text.includes('/') ? text.split('/').map(Number) : [Number(text), 1]
  } else if (text !== null && /^[-+]?\d*\.\d+$/.test(text)) {
    const decimals = text.length - text.indexOf('.') - 1
    ;[n, d] = [Number(text.replace('.', '')), 10 ** decimals]
  } else if (typeof value === 'number' && Number.isFinite(value)) {
    [n, d] = [Math.round(value), 1]
    for (let den = 2; den <= MAX_DENOMINATOR; den++) {
      const num = Math.round(value * den)
      if (Math.abs(num / den - value) < Math.abs(n / d - value)) [n, d] = [num, den]
    }
  } else {
    throw new Error(`not a fraction: ${JSON.stringify(value)}`)
  }
  if (d === 0) throw new Error(`not a fraction: ${JSON.stringify(value)}`)
  const g = gcd(n, d)
  ;[n, d] = [n / g, d / g]
  if (d > MAX_DENOMINATOR) throw new Error(`denominator above ${MAX_DENOMINATOR}: ${value}`)
  return [n, d]
}

/** Write [n, d] (or an integer) the way the schema stores it: "1/2", "3". */
export function formatFraction (value) {
  const [n, d] = parseFraction(Array.isArray(value) ? `${value[0]}/${value[1]}` : value)
  return d === 1 ? String(n) : `${n}/${d}`
}

// --- reading ------------------------------------------------------------------------------------

/** A stored note with every default filled in (the same view the server decodes). */
export function readNote (id, raw) {
  const pitches = raw.pitches ?? []
  const ties = pitches.map((_, i) => (raw.ties ?? [])[i] ?? null)
  return {
    id,
    measure: raw.measure,
    part: raw.part,
    voice: raw.voice ?? 1,
    staff: raw.staff ?? 1,
    onset: formatFraction(raw.onset),
    duration: formatFraction(raw.duration),
    pitches: [...pitches],
    ties,
    lyric: raw.lyric ?? null,
    articulations: [...(raw.articulations ?? [])],
    dynamic: raw.dynamic ?? null,
    grace: raw.grace ?? false,
    // version 3: notation marks
    slurs: [...(raw.slurs ?? [])],
    hairpins: [...(raw.hairpins ?? [])],
    ornaments: [...(raw.ornaments ?? [])],
    fingerings: [...(raw.fingerings ?? [])],
    verses: [...(raw.verses ?? [])],
    // version 4: tuplet groups, outermost first, defaults filled in
    tuplets: (raw.tuplets ?? []).map(readTuplet)
  }
}

/** A tuplet group (version 4) with its defaults: bracket shown, number (not ratio) shown,
 * unit null (each note's own value). */
export function readTuplet (raw) {
  return {
    id: raw.id,
    actual: raw.actual,
    normal: raw.normal,
    unit: raw.unit == null ? null : formatFraction(raw.unit),
    bracket: raw.bracket ?? true,
    number: raw.number ?? 'number'
  }
}

/** A tuplet group as stored: defaults left out. */
export function tupletValue (group) {
  const out = { id: group.id, actual: group.actual, normal: group.normal }
  if (group.unit != null) out.unit = formatFraction(group.unit)
  if (group.bracket === false) out.bracket = false
  if ((group.number ?? 'number') !== 'number') out.number = group.number
  return out
}

/** The whole score as plain data. Measures whose id repeats (after two clients moved the
 * same measure at once) keep their first occurrence, as the server does. */
export function readScore (doc) {
  const r = roots(doc)
  const seen = new Set()
  const measures = r.measures.toArray().filter(m => m instanceof Y.Map).map(m => m.toJSON())
    .filter(m => typeof m.id === 'string' && !seen.has(m.id) && seen.add(m.id))
  const notes = {}
  for (const [id, raw] of r.notes.entries()) {
    try { notes[id] = readNote(id, raw) } catch { /* off-schema: the server reports it */ }
  }
  return {
    meta: r.meta.toJSON(),
    parts: r.parts.toArray().map(p => p.toJSON()),
    measures,
    notes,
    chat: r.chat.toJSON(),
    comments: r.comments.toJSON()
  }
}

/** Every root as JSON, for comparing two replicas. */
export function dump (doc) {
  const out = {}
  for (const [name, type] of Object.entries(roots(doc))) out[name] = type.toJSON()
  return out
}

// --- editing ------------------------------------------------------------------------------------

/** Store a note value: fractions as strings, defaults and empty fields left out. */
export function noteValue (note) {
  const out = {
    measure: note.measure,
    part: note.part,
    onset: formatFraction(note.onset),
    duration: formatFraction(note.duration),
    pitches: [...(note.pitches ?? [])]
  }
  if ((note.voice ?? 1) !== 1) out.voice = note.voice
  if ((note.staff ?? 1) !== 1) out.staff = note.staff
  if ((note.ties ?? []).some(t => t)) out.ties = [...note.ties]
  for (const name of ['lyric', 'dynamic']) if (note[name] != null) out[name] = note[name]
  if ((note.articulations ?? []).length) out.articulations = [...note.articulations]
  if (note.grace) out.grace = true
  for (const name of ['slurs', 'hairpins', 'ornaments', 'fingerings', 'verses']) {
    if ((note[name] ?? []).length) out[name] = [...note[name]]
  }
  if (note.clef != null) out.clef = note.clef
  if ((note.tuplets ?? []).length) out.tuplets = note.tuplets.map(tupletValue)
  return out
}

/** Make notes a tuplet group (version 4): `actual` notes in the time of `normal` notes of
 * `unit` quarters. The notes (one measure, part and voice, one after the other) already
 * last their squeezed lengths (a triplet eighth: '1/3'); the group nests inside any the
 * notes share. One transaction; returns the group id. */
export function setTuplet (doc, noteIds, actual, normal, { unit = null, bracket = true, number = 'number' } = {}) {
  const notes = roots(doc).notes
  const group = tupletValue({ id: newId('u'), actual, normal, unit, bracket, number })
  doc.transact(() => {
    for (const id of noteIds) {
      const current = notes.get(id)
      if (current === undefined) throw new Error(`no note ${id}`)
      notes.set(id, { ...current, tuplets: [...(current.tuplets ?? []), group] })
    }
  })
  return group.id
}

/** Put a chord symbol (version 4) on a part at an onset of a measure, replacing the one
 * there: `{ part, onset, root, kind, bass?, text?, degrees? }`. The symbols are one JSON
 * list in the measure's `chord_symbols`, kept in onset order. */
export function setChordSymbol (doc, measureId, symbol) {
  const measure = roots(doc).measures.get(measureIndex(doc, measureId))
  const value = { ...symbol, onset: formatFraction(symbol.onset ?? '0') }
  const same = c => c.part === value.part && formatFraction(c.onset) === value.onset
  const list = [...(measure.get('chord_symbols') ?? []).filter(c => !same(c)), value]
  list.sort((a, b) => {
    const [an, ad] = parseFraction(a.onset)
    const [bn, bd] = parseFraction(b.onset)
    return an * bd - bn * ad || (a.part < b.part ? -1 : a.part > b.part ? 1 : 0)
  })
  measure.set('chord_symbols', list)
}

/** Slur two notes of one part and voice (version 3): a "start" mark on the first, a
 * "stop" on the last, in one transaction. Hairpins work the same way with "crescendo"
 * or "diminuendo" and "stop" in `hairpins`. */
export function addSpan (doc, name, startId, endId, mark = 'start') {
  const notes = roots(doc).notes
  doc.transact(() => {
    const first = notes.get(startId)
    notes.set(startId, { ...first, [name]: [...(first[name] ?? []), mark] })
    const last = notes.get(endId)
    notes.set(endId, { ...last, [name]: [...(last[name] ?? []), 'stop'] })
  })
}

/** Add a note (one pitch), chord (several) or rest (no pitches); returns its new id. */
export function addNote (doc, note) {
  const id = newId('n')
  roots(doc).notes.set(id, noteValue(note))
  return id
}

/** Change fields of a note; the note is written whole (last writer wins per note).
 * A field set to null or undefined goes back to its default. */
export function updateNote (doc, id, changes) {
  const notes = roots(doc).notes
  const current = notes.get(id)
  if (current === undefined) throw new Error(`no note ${id}`)
  const merged = { ...current, ...changes }
  if ('pitches' in changes && !('ties' in changes)) delete merged.ties
  notes.set(id, noteValue(merged))
}

export function deleteNote (doc, id) {
  roots(doc).notes.delete(id)
}

/** Insert an empty measure column at `index` with optional attributes; returns its id. */
export function insertMeasure (doc, index, attributes = {}) {
  const measures = roots(doc).measures
  const id = newId('m')
  const measure = new Y.Map(Object.entries({ id, ...attributes }))
  measures.insert(Math.max(0, Math.min(index, measures.length)), [measure])
  return id
}

function measureIndex (doc, id) {
  const index = roots(doc).measures.toArray().findIndex(m => m instanceof Y.Map && m.get('id') === id)
  if (index < 0) throw new Error(`no measure ${id}`)
  return index
}

/** Set (or with null, clear) time, key, tempo, barline, repeat or pickup of a measure. */
export function setMeasureAttribute (doc, id, name, value) {
  const measure = roots(doc).measures.get(measureIndex(doc, id))
  if (value == null) measure.delete(name)
  else measure.set(name, value)
}

/** Move a measure: delete it and insert a copy (same id, same fields) in one transaction.
 * Its notes follow it, because they refer to its id. */
export function moveMeasure (doc, id, newIndex) {
  const measures = roots(doc).measures
  doc.transact(() => {
    const index = measureIndex(doc, id)
    const copy = new Y.Map(Object.entries(measures.get(index).toJSON()))
    measures.delete(index, 1)
    measures.insert(Math.max(0, Math.min(newIndex, measures.length)), [copy])
  })
}

/** Remove later copies of a measure id (left by two concurrent moves of one measure),
 * leaving the notes alone. Safe to run on several clients at once. Returns how many. */
export function removeDuplicateMeasures (doc) {
  const measures = roots(doc).measures
  let removed = 0
  doc.transact(() => {
    const seen = new Set()
    for (let i = 0; i < measures.length;) {
      const item = measures.get(i)
      const id = item instanceof Y.Map ? item.get('id') : undefined
      if (id !== undefined && seen.has(id)) { measures.delete(i, 1); removed++ } else { seen.add(id); i++ }
    }
  })
  return removed
}

/** Delete a measure column and every note in it, in one transaction. */
export function deleteMeasure (doc, id) {
  const r = roots(doc)
  doc.transact(() => {
    r.measures.delete(measureIndex(doc, id), 1)
    for (const [noteId, raw] of [...r.notes.entries()]) if (raw.measure === id) r.notes.delete(noteId)
  })
}

/** Append a part (a Y.Map inside the `parts` array); returns its id. */
export function addPart (doc, fields) {
  const id = newId('p')
  roots(doc).parts.push([new Y.Map(Object.entries({ id, name: '', staves: 1, ...fields }))])
  return id
}

/** Fill an empty document: meta, parts and measures (the first with the time signature). */
export function createScore (doc, { title = '', composer = '', parts = ['Piano'], measures = 4,
  time = '4/4' } = {}) {
  const ids = { parts: [], measures: [] }
  doc.transact(() => {
    const meta = roots(doc).meta
    meta.set('title', title)
    meta.set('composer', composer)
    meta.set('schema_version', SCHEMA_VERSION)
    meta.set('created', new Date().toISOString().slice(0, 19) + '+00:00')
    for (const part of parts) ids.parts.push(addPart(doc, typeof part === 'string' ? { name: part } : part))
    for (let i = 0; i < measures; i++) ids.measures.push(insertMeasure(doc, i, i === 0 ? { time } : {}))
  })
  return ids
}

export function postChat (doc, author, text, kind = 'message') {
  const id = newId('c')
  roots(doc).chat.push([{ id, author, text, kind, time: new Date().toISOString() }])
  return id
}

export function addComment (doc, author, text, { measure, part, onset } = {}) {
  const id = newId('k')
  const value = { author, text, measure, resolved: false, time: new Date().toISOString() }
  if (part != null) value.part = part
  if (onset != null) value.onset = formatFraction(onset)
  roots(doc).comments.set(id, value)
  return id
}

// --- suggestions (version 2) ---------------------------------------------------------------------

/** Open suggestions (draft, pending) grouped by task then measure: what to show as tracked
 * changes. Each value keeps its id. */
export function openSuggestions (doc) {
  const out = {}
  for (const [id, value] of roots(doc).suggestions.entries()) {
    if (value.status !== 'pending' && value.status !== 'draft') continue
    const task = (out[value.task] ??= {})
    ;(task[value.measure] ??= []).push({ id, ...value })
  }
  return out
}

/** Accept a suggestion and every other pending one of its task in the same measure (the
 * unit of acceptance), or only those of the given measures; the server applies them in one
 * transaction, or marks them stale if someone changed the measure meanwhile. */
export function acceptSuggestion (doc, id, by, measures = null) {
  const suggestions = roots(doc).suggestions
  const chosen = suggestions.get(id)
  if (!chosen) throw new Error(`no suggestion ${id}`)
  const wanted = measures ?? [chosen.measure]
  doc.transact(() => {
    for (const [otherId, value] of suggestions.entries()) {
      if (value.task === chosen.task && value.status === 'pending' && wanted.includes(value.measure)) {
        suggestions.set(otherId, { ...value, status: 'accepted', by })
      }
    }
  })
}

/** Accept every pending suggestion of a task. */
export function acceptTask (doc, task, by) {
  const suggestions = roots(doc).suggestions
  doc.transact(() => {
    for (const [id, value] of suggestions.entries()) {
      if (value.task === task && value.status === 'pending') suggestions.set(id, { ...value, status: 'accepted', by })
    }
  })
}

/** Reject a suggestion: it is removed. */
export function rejectSuggestion (doc, id) {
  roots(doc).suggestions.delete(id)
}
