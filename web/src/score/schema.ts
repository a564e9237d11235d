// The Orpheus score schema (docs/score-schema.md, versions 1-4) for the browser: root
// declarations, ids, and clean note values. Nothing here writes a field the schema does
// not define.
import * as Y from 'yjs'
import { formatFraction, parseFraction } from './fraction'

/** The version this client writes into new documents (a version-1 document is valid
 * under every later version). */
export const SCHEMA_VERSION = 1
/** The newest version this client can edit: version 2 only adds the `suggestions` root
 * (agents' proposals), which this client declares and leaves alone; version 3 adds note
 * marks (slurs, hairpins, ornaments, fingerings, verses, clef changes) and per-staff
 * clefs, which this client reads, draws and keeps when it rewrites a note; version 4 adds
 * tuplet groups on notes and chord symbols on measures, read, drawn and kept likewise. A
 * document with a higher `meta.schema_version` opens read-only (docs/score-schema.md,
 * section 5). */
export const KNOWN_SCHEMA_VERSION = 4
const ID_ALPHABET = '0123456789abcdefghijkmnpqrstuvwxyz' // no 'l' or 'o'

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

export interface Roots {
  meta: Y.Map<Json>
  parts: Y.Array<Y.Map<Json>>
  measures: Y.Array<Y.Map<Json>>
  notes: Y.Map<RawNote>
  chat: Y.Array<Json>
  comments: Y.Map<Json>
  suggestions: Y.Map<Json>
}

/** Declare every root with its type (MUST happen before reading). */
export function roots(doc: Y.Doc): Roots {
  return {
    meta: doc.getMap('meta'),
    parts: doc.getArray('parts'),
    measures: doc.getArray('measures'),
    notes: doc.getMap('notes'),
    chat: doc.getArray('chat'),
    comments: doc.getMap('comments'),
    suggestions: doc.getMap('suggestions'),
  }
}

/** A new id such as `n_3kf9x0q2mz7w` from a cryptographic random source. */
export function newId(prefix: 'p' | 'm' | 'n' | 'k' | 'c'): string {
  let out = prefix + '_'
  while (out.length < 14) {
    for (const byte of globalThis.crypto.getRandomValues(new Uint8Array(16))) {
      if (byte < 238 && out.length < 14) out += ID_ALPHABET[byte % 34]
    }
  }
  return out
}

export type Tie = 'start' | 'stop' | 'continue' | null
export const ARTICULATIONS = [
  'staccato',
  'staccatissimo',
  'accent',
  'strong-accent',
  'tenuto',
  'detached-legato',
  'spiccato',
  'stress',
  'unstress',
  'fermata',
] as const
export const DYNAMICS = [
  'pppp',
  'ppp',
  'pp',
  'p',
  'mp',
  'mf',
  'f',
  'ff',
  'fff',
  'ffff',
  'sf',
  'sfz',
  'sffz',
  'fp',
  'rf',
  'rfz',
  'fz',
  'sfp',
  'sfpp',
] as const
export const CLEFS = [
  'treble',
  'bass',
  'alto',
  'tenor',
  'treble8vb',
  'treble8va',
  'bass8vb',
  'percussion',
  'soprano',
  'mezzo-soprano',
  'baritone',
] as const
export const BARLINES = [
  'regular',
  'dotted',
  'dashed',
  'heavy',
  'double',
  'final',
  'heavy-light',
  'heavy-heavy',
  'tick',
  'short',
  'none',
] as const
export const MODES = [
  'major',
  'minor',
  'dorian',
  'phrygian',
  'lydian',
  'mixolydian',
  'aeolian',
  'ionian',
  'locrian',
] as const

/** A note value as stored (fields may be missing; null reads as absent). */
export interface RawNote {
  measure?: unknown
  part?: unknown
  onset?: unknown
  duration?: unknown
  pitches?: unknown
  voice?: unknown
  staff?: unknown
  ties?: unknown
  lyric?: unknown
  articulations?: unknown
  dynamic?: unknown
  grace?: unknown
  slurs?: unknown
  hairpins?: unknown
  ornaments?: unknown
  fingerings?: unknown
  verses?: unknown
  clef?: unknown
  tuplets?: unknown
  [other: string]: unknown
}

/** Version 4: a tuplet group a note belongs to (its notes share the id). */
export interface Tuplet {
  id: string
  actual: number
  normal: number
  /** The normal note's value in quarters ("1/2": eighths); null: each note's own. */
  unit: string | null
  bracket: boolean
  number: 'number' | 'ratio' | 'none'
}

/** Version 4: a chord symbol of a lead sheet, on a part at an onset of its measure. */
export interface ChordSymbol {
  part: string
  onset: string
  root: string | null
  kind: string
  bass?: string
  /** The kind as written ("maj7", "m"). */
  text?: string
  degrees?: { type: string; value: number; alter?: number }[]
}

/** A note with every default filled in. */
export interface Note {
  id: string
  measure: string
  part: string
  onset: string
  duration: string
  pitches: string[]
  voice: number
  staff: number
  ties: Tie[]
  lyric: string | null
  articulations: string[]
  dynamic: string | null
  grace: boolean
  /** Version 3: "start" / "stop" marks, paired per voice. */
  slurs: string[]
  /** Version 3: "crescendo" / "diminuendo" / "stop" marks, paired per part. */
  hairpins: string[]
  ornaments: string[]
  fingerings: string[]
  /** Lyrics of verses 2 onwards (null: no syllable in that verse). */
  verses: (string | null)[]
  /** A clef change on this note's staff, just before it. */
  clef: string | null
  /** Version 4: tuplet groups, outermost first. */
  tuplets: Tuplet[]
}

const PITCH = /^[A-G](#{1,3}|-{1,3})?[0-9]$/
const NOTE_FIELDS = new Set([
  'measure',
  'part',
  'onset',
  'duration',
  'pitches',
  'voice',
  'staff',
  'ties',
  'lyric',
  'articulations',
  'dynamic',
  'grace',
  'slurs',
  'hairpins',
  'ornaments',
  'fingerings',
  'verses',
  'clef',
  'tuplets',
])

const STEP = /^[A-G](#{1,3}|-{1,3})?$/
const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)
const smallInt = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 99

/** Decode a note's tuplet groups; throws when one is off-schema (as the server refuses
 * the whole note). */
export function readTuplets(value: unknown): Tuplet[] {
  if (value == null) return []
  if (!Array.isArray(value) || value.length > 3) throw new Error('bad tuplets')
  return value.map((raw: unknown): Tuplet => {
    if (!isRecord(raw) || typeof raw.id !== 'string' || !smallInt(raw.actual))
      throw new Error('bad tuplet')
    if (!smallInt(raw.normal)) throw new Error('bad tuplet')
    const number = raw.number ?? 'number'
    if (number !== 'number' && number !== 'ratio' && number !== 'none')
      throw new Error('bad tuplet number')
    return {
      id: raw.id,
      actual: raw.actual,
      normal: raw.normal,
      unit: raw.unit == null ? null : formatFraction(parseFraction(raw.unit)),
      bracket: raw.bracket !== false,
      number,
    }
  })
}

/** The stored value of a tuplet group: defaults left out. */
export function tupletValue(t: Tuplet): { [key: string]: Json } {
  const out: { [key: string]: Json } = { id: t.id, actual: t.actual, normal: t.normal }
  if (t.unit != null) out.unit = t.unit
  if (!t.bracket) out.bracket = false
  if (t.number !== 'number') out.number = t.number
  return out
}

/** Decode the chord symbols of a measure; off-schema ones are skipped. */
export function readChordSymbols(value: unknown): ChordSymbol[] {
  if (!Array.isArray(value)) return []
  const out: ChordSymbol[] = []
  for (const raw of value) {
    if (!isRecord(raw) || typeof raw.part !== 'string') continue
    const root = typeof raw.root === 'string' && STEP.test(raw.root) ? raw.root : null
    const kind = typeof raw.kind === 'string' ? raw.kind : 'major'
    if (root === null && kind !== 'none') continue
    let onset: string
    try {
      onset = formatFraction(parseFraction(raw.onset ?? '0'))
    } catch {
      continue
    }
    out.push({
      part: raw.part,
      onset,
      root,
      kind,
      ...(typeof raw.bass === 'string' && STEP.test(raw.bass) ? { bass: raw.bass } : {}),
      ...(typeof raw.text === 'string' ? { text: raw.text } : {}),
      ...(Array.isArray(raw.degrees)
        ? {
            degrees: raw.degrees.filter(isRecord).map((d) => ({
              type: String(d.type),
              value: Number(d.value),
              ...(typeof d.alter === 'number' && d.alter !== 0 ? { alter: d.alter } : {}),
            })),
          }
        : {}),
    })
  }
  return out
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []

/** Decode a stored note; throws on anything off-schema (the caller skips it). */
export function readNote(id: string, raw: unknown): Note {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new Error('not an object')
  const r = raw as RawNote
  for (const key of Object.keys(r))
    if (!NOTE_FIELDS.has(key)) throw new Error(`unknown field ${key}`)
  if (typeof r.measure !== 'string' || typeof r.part !== 'string') throw new Error('no cell')
  const pitches = r.pitches ?? []
  if (
    !Array.isArray(pitches) ||
    pitches.length > 16 ||
    !pitches.every((p) => typeof p === 'string' && PITCH.test(p))
  ) {
    throw new Error('bad pitches')
  }
  const ties = Array.isArray(r.ties) ? r.ties : []
  const duration = parseFraction(r.duration)
  const onset = parseFraction(r.onset)
  if (onset.n < 0 || duration.n < 0 || (duration.n === 0 && r.grace !== true))
    throw new Error('bad time')
  return {
    id,
    measure: r.measure,
    part: r.part,
    onset: formatFraction(onset),
    duration: formatFraction(duration),
    pitches: [...(pitches as string[])],
    voice: typeof r.voice === 'number' ? r.voice : 1,
    staff: typeof r.staff === 'number' ? r.staff : 1,
    ties: (pitches as string[]).map((_, i) => (ties[i] as Tie | undefined) ?? null),
    lyric: typeof r.lyric === 'string' ? r.lyric : null,
    articulations: Array.isArray(r.articulations)
      ? r.articulations.filter((a): a is string => typeof a === 'string')
      : [],
    dynamic: typeof r.dynamic === 'string' ? r.dynamic : null,
    grace: r.grace === true,
    slurs: strings(r.slurs),
    hairpins: strings(r.hairpins),
    ornaments: strings(r.ornaments),
    fingerings: strings(r.fingerings),
    verses: Array.isArray(r.verses)
      ? r.verses.map((v) => (typeof v === 'string' && v !== '' ? v : null))
      : [],
    clef:
      typeof r.clef === 'string' && (CLEFS as readonly string[]).includes(r.clef) ? r.clef : null,
    tuplets: readTuplets(r.tuplets),
  }
}

export interface NoteInput {
  measure: string
  part: string
  onset: string
  duration: string
  pitches?: string[]
  voice?: number
  staff?: number
  ties?: Tie[]
  lyric?: string | null
  articulations?: string[]
  dynamic?: string | null
  grace?: boolean
  slurs?: string[]
  hairpins?: string[]
  ornaments?: string[]
  fingerings?: string[]
  verses?: (string | null)[]
  clef?: string | null
  tuplets?: Tuplet[]
}

/** The stored value of a note: fractions canonical, defaults and empty fields left out. */
export function noteValue(note: NoteInput): { [key: string]: Json } {
  const out: { [key: string]: Json } = {
    measure: note.measure,
    part: note.part,
    onset: formatFraction(parseFraction(note.onset)),
    duration: formatFraction(parseFraction(note.duration)),
    pitches: [...(note.pitches ?? [])],
  }
  if ((note.voice ?? 1) !== 1) out.voice = note.voice ?? 1
  if ((note.staff ?? 1) !== 1) out.staff = note.staff ?? 1
  const pitchCount = (note.pitches ?? []).length
  const ties = (note.ties ?? []).slice(0, pitchCount)
  if (ties.some((t) => t)) out.ties = ties.map((t) => t ?? null)
  if (note.lyric != null && note.lyric !== '') out.lyric = note.lyric
  if (note.dynamic != null) out.dynamic = note.dynamic
  if ((note.articulations ?? []).length) out.articulations = [...(note.articulations ?? [])]
  if (note.grace === true) out.grace = true
  for (const name of ['slurs', 'hairpins', 'ornaments', 'fingerings'] as const) {
    const marks = note[name] ?? []
    if (marks.length) out[name] = [...marks]
  }
  const verses = [...(note.verses ?? [])]
  while (verses.length && !verses[verses.length - 1]) verses.pop()
  if (verses.length) out.verses = verses.map((v) => v || null)
  if (note.clef != null) out.clef = note.clef
  if ((note.tuplets ?? []).length) out.tuplets = (note.tuplets ?? []).map(tupletValue)
  return out
}

export interface Key {
  fifths: number
  mode?: string
}
export interface Tempo {
  bpm: number
  beat?: string
  text?: string
}

export interface Part {
  id: string
  name: string
  abbreviation?: string
  instrument?: string
  program?: number
  clef?: string
  staves: number
  /** Version 3: the opening clef of each staff, top down. */
  clefs?: string[]
}

export interface Measure {
  id: string
  time?: string
  key?: Key
  tempo?: Tempo
  barline?: string
  repeat?: 'start' | 'end' | 'both'
  pickup?: boolean
  /** Version 4: the chord symbols of the column, in onset order. */
  chordSymbols?: ChordSymbol[]
}

export function readPart(raw: unknown): Part | null {
  if (raw === null || typeof raw !== 'object') return null
  const r = raw as Record<string, unknown>
  if (typeof r.id !== 'string') return null
  return {
    id: r.id,
    name: typeof r.name === 'string' ? r.name : '',
    ...(typeof r.abbreviation === 'string' ? { abbreviation: r.abbreviation } : {}),
    ...(typeof r.instrument === 'string' ? { instrument: r.instrument } : {}),
    ...(typeof r.program === 'number' ? { program: r.program } : {}),
    ...(typeof r.clef === 'string' && (CLEFS as readonly string[]).includes(r.clef)
      ? { clef: r.clef }
      : {}),
    staves:
      typeof r.staves === 'number' && r.staves >= 1 && r.staves <= 4 ? Math.round(r.staves) : 1,
    ...(Array.isArray(r.clefs) &&
    r.clefs.every((c) => typeof c === 'string' && (CLEFS as readonly string[]).includes(c))
      ? { clefs: r.clefs as string[] }
      : {}),
  }
}

export function readMeasure(raw: unknown): Measure | null {
  if (raw === null || typeof raw !== 'object') return null
  const r = raw as Record<string, unknown>
  if (typeof r.id !== 'string') return null
  const m: Measure = { id: r.id }
  if (typeof r.time === 'string' && /^\d{1,2}\/(1|2|4|8|16|32|64)$/.test(r.time)) m.time = r.time
  if (r.key && typeof r.key === 'object') {
    const k = r.key as Record<string, unknown>
    const fifths = typeof k.fifths === 'number' ? k.fifths : 0
    if (Number.isInteger(fifths) && fifths >= -7 && fifths <= 7) {
      m.key = { fifths, ...(typeof k.mode === 'string' ? { mode: k.mode } : {}) }
    }
  }
  if (r.tempo && typeof r.tempo === 'object') {
    const t = r.tempo as Record<string, unknown>
    if (typeof t.bpm === 'number') {
      m.tempo = {
        bpm: t.bpm,
        ...(typeof t.beat === 'string' ? { beat: t.beat } : {}),
        ...(typeof t.text === 'string' ? { text: t.text } : {}),
      }
    }
  }
  if (typeof r.barline === 'string') m.barline = r.barline
  if (r.repeat === 'start' || r.repeat === 'end' || r.repeat === 'both') m.repeat = r.repeat
  if (r.pickup === true) m.pickup = true
  const symbols = readChordSymbols(r.chord_symbols)
  if (symbols.length) m.chordSymbols = symbols
  return m
}

/** Fill a new empty document (used for "create score"): meta, parts, measures. */
export interface NewScore {
  title: string
  composer?: string
  parts: { name: string; clef?: string; staves?: number; program?: number; instrument?: string }[]
  measures: number
  time: string
  key: number
  tempo?: number
}

/** The JSON document (as `export_json` writes it) of a new empty score. */
export function newScoreJson(spec: NewScore): Record<string, Json> {
  const parts = spec.parts.map((p) => {
    const out: { [key: string]: Json } = { id: newId('p'), name: p.name }
    if (p.clef) out.clef = p.clef
    if (p.staves && p.staves > 1) out.staves = p.staves
    if (p.program != null) out.program = p.program
    if (p.instrument) out.instrument = p.instrument
    return out
  })
  const measures: Record<string, Json>[] = []
  for (let i = 0; i < spec.measures; i++) {
    const m: Record<string, Json> = { id: newId('m') }
    if (i === 0) {
      m.time = spec.time
      if (spec.key !== 0) m.key = { fifths: spec.key }
      if (spec.tempo) m.tempo = { bpm: spec.tempo }
    }
    if (i === spec.measures - 1) m.barline = 'final'
    measures.push(m)
  }
  return {
    schema_version: SCHEMA_VERSION,
    meta: {
      title: spec.title,
      composer: spec.composer ?? '',
      schema_version: SCHEMA_VERSION,
      created: new Date().toISOString().slice(0, 19) + '+00:00',
    },
    parts,
    measures,
    notes: {},
    comments: {},
    chat: [],
  }
}
