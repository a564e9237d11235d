// Write a range of measures of a score as MEI for Verovio. Every note, chord and rest
// keeps its schema id as its xml:id, so each rendered element maps back to its note.
// Ids of pieces Verovio needs beyond the schema note (tied pieces of a long note, the
// notes inside a chord) extend the note id after a dot: `n_x.t1`, `n_x.p0`.
import {
  add,
  barLength,
  cmp,
  frac,
  mul,
  parseFraction,
  sub,
  ZERO,
  type Frac,
} from '../score/fraction'
import { keyAlter, parsePitch } from '../score/pitch'
import type { ChordSymbol, Key, Measure, Note, Part, Tempo, Tuplet } from '../score/schema'

export interface CellRef {
  measure: string
  part: string
  staff: number
}

export interface Context {
  time: string
  key: Key
  tempo?: Tempo
}

export interface ChunkInput {
  parts: Part[]
  measures: Measure[] // the measures of this chunk
  /** attributes in force in the first measure (its own included) */
  context: Context
  /** number printed for the first measure */
  firstNumber: number
  notesIn: (measureId: string) => Note[]
  /** the score's default tempo (shown on the first measure of the score) */
  isScoreStart: boolean
  metaTempo?: Tempo
  scoreEnd: boolean
}

export interface ChunkMei {
  mei: string
  /** svg id of a staff element -> the cell it shows */
  cells: Map<string, CellRef>
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const CLEF: Record<string, string> = {
  treble: 'shape="G" line="2"',
  bass: 'shape="F" line="4"',
  alto: 'shape="C" line="3"',
  tenor: 'shape="C" line="4"',
  treble8vb: 'shape="G" line="2" dis="8" dis.place="below"',
  treble8va: 'shape="G" line="2" dis="8" dis.place="above"',
  bass8vb: 'shape="F" line="4" dis="8" dis.place="below"',
  percussion: 'shape="perc" line="3"',
  soprano: 'shape="C" line="1"',
  'mezzo-soprano': 'shape="C" line="2"',
  baritone: 'shape="F" line="3"',
}

/** The clef a staff uses: the part's, else a guess from its name (a cello reads bass). */
export function clefFor(part: Part, staff: number): string {
  const own = part.clefs?.[staff - 1]
  if (own) return own
  if (staff === 1 && part.clef) return part.clef
  if (staff >= 2) return 'bass'
  const name = `${part.name} ${part.instrument ?? ''}`.toLowerCase()
  if (/viola|alto sax/.test(name) && !/gamba/.test(name)) return 'alto'
  if (/cello|violoncello|bass|contrabass|bassoon|tuba|trombone|baritone/.test(name)) return 'bass'
  if (/tenor/.test(name) && /voice|vocal|tenor$/.test(name)) return 'treble8vb'
  return 'treble'
}

const KEYSIG = (fifths: number): string =>
  fifths === 0 ? '0' : fifths > 0 ? `${fifths}s` : `${-fifths}f`

const ARTIC: Record<string, string> = {
  staccato: 'stacc',
  staccatissimo: 'stacciss',
  accent: 'acc',
  'strong-accent': 'marc',
  tenuto: 'ten',
  'detached-legato': 'ten-stacc',
  spiccato: 'spicc',
  stress: 'stress',
  unstress: 'unstress',
}

const RIGHT_BAR: Record<string, string> = {
  dotted: 'dotted',
  dashed: 'dashed',
  heavy: 'heavy',
  double: 'dbl',
  final: 'end',
  'heavy-light': 'heavy',
  'heavy-heavy': 'heavy',
  none: 'invis',
}

const DUR_NAMES: [number, string][] = [
  [8, 'breve'],
  [4, '1'],
  [2, '2'],
  [1, '4'],
  [0.5, '8'],
  [0.25, '16'],
  [0.125, '32'],
  [0.0625, '64'],
  [0.03125, '128'],
  [0.015625, '256'],
]

export interface Piece {
  dur: string
  dots: number
  num?: number
  numbase?: number
  length: Frac
}

/** Split a duration into written values (dotted where possible, tuplets for odd
 * denominators) that tie together to exactly that length. */
export function durationPieces(q: Frac): Piece[] {
  if (q.n <= 0) return []
  let d = q.d
  while (d % 2 === 0) d /= 2
  let num: number | undefined
  let numbase: number | undefined
  let written = q
  if (d > 1) {
    num = d
    numbase = 1
    while (numbase * 2 < num) numbase *= 2
    written = frac(q.n * num, q.d * numbase)
  }
  const pieces: Piece[] = []
  let rem = written.n / written.d
  let guard = 0
  while (rem > 1e-9 && guard++ < 12) {
    const found = DUR_NAMES.find(([v]) => v <= rem + 1e-9)
    if (!found) break
    const [value, name] = found
    let dots = 0
    while (dots < 2 && value * (2 - 1 / 2 ** (dots + 1)) <= rem + 1e-9) dots++
    const len = value * (2 - 1 / 2 ** dots)
    rem -= len
    const actual = num && numbase ? (len * numbase) / num : len
    pieces.push({
      dur: name,
      dots,
      length: parseFraction(actual),
      ...(num ? { num, numbase } : {}),
    })
  }
  return pieces
}

/** The pieces of a note in tuplet groups (schema version 4): its written value (the
 * duration without the groups' squeeze) with the groups' combined ratio; a note whose
 * written value is no plain note value is split as if it had no groups. */
export function tupletPieces(n: Note): Piece[] {
  const length = parseFraction(n.duration)
  if (n.tuplets.length === 0) return durationPieces(length)
  let num = 1
  let numbase = 1
  for (const t of n.tuplets) {
    num *= t.actual
    numbase *= t.normal
  }
  const pieces = durationPieces(mul(length, frac(num, numbase)))
  if (pieces.some((p) => p.num)) return durationPieces(length)
  return pieces.map((p) => ({ ...p, num, numbase, length: mul(p.length, frac(numbase, num)) }))
}

const ACCID: Record<number, string> = {
  [-3]: 'tf',
  [-2]: 'ff',
  [-1]: 'f',
  0: 'n',
  1: 's',
  2: 'x',
  3: 'ts',
}

function durAttrs(p: Piece): string {
  let out = `dur="${p.dur}"`
  if (p.dots) out += ` dots="${p.dots}"`
  if (p.num && p.numbase) out += ` num="${p.num}" numbase="${p.numbase}"`
  return out
}

const TEMPO_GLYPH: Record<string, string> = {
  4: '\uE1D2',
  2: '\uE1D3',
  1: '\uE1D5',
  '1/2': '\uE1D7',
  '3': '\uE1D3\uE1E7',
  '3/2': '\uE1D5\uE1E7',
  '3/4': '\uE1D7\uE1E7',
}

function tempoElement(tempo: Tempo, id: string): string {
  const beat = tempo.beat ?? '1'
  const glyph = TEMPO_GLYPH[beat] ?? '\uE1D5'
  const bpm = Number.isInteger(tempo.bpm) ? String(tempo.bpm) : tempo.bpm.toFixed(1)
  const text = tempo.text ? `${esc(tempo.text)} ` : ''
  const mm = `(<rend glyph.auth="smufl">${glyph}</rend> = ${bpm})`
  return `<tempo xml:id="${id}" staff="1" tstamp="1" midi.bpm="${Math.round(tempo.bpm * 100) / 100}">${text}${tempo.text ? mm : mm.slice(1, -1)}</tempo>`
}

/** Measure number printed for each measure (pickups at the start count as 0). */
export function measureNumbers(measures: Measure[]): number[] {
  const out: number[] = []
  let n = measures[0]?.pickup ? 0 : 1
  for (let i = 0; i < measures.length; i++) out.push(n++)
  return out
}

/** Attributes in force in each measure (its own included): time, key, tempo. */
export function contexts(measures: Measure[], metaTempo?: Tempo): Context[] {
  const out: Context[] = []
  let ctx: Context = { time: '4/4', key: { fifths: 0 }, ...(metaTempo ? { tempo: metaTempo } : {}) }
  for (const m of measures) {
    const tempo = m.tempo ?? ctx.tempo
    ctx = { time: m.time ?? ctx.time, key: m.key ?? ctx.key, ...(tempo ? { tempo } : {}) }
    out.push(ctx)
  }
  return out
}

interface Staff {
  n: number
  part: Part
  staffIndex: number
  partIndex: number
}

export function staffList(parts: Part[]): Staff[] {
  const out: Staff[] = []
  let n = 1
  parts.forEach((part, partIndex) => {
    for (let s = 1; s <= part.staves; s++) out.push({ n: n++, part, staffIndex: s, partIndex })
  })
  return out
}

function scoreDef(input: ChunkInput, staves: Staff[]): string {
  const { context } = input
  const [count, unit] = context.time.split('/')
  // The time signature shows where it is set (or at the start); later systems keep it
  // hidden, as engravers do. The key signature shows at every system.
  const shown = input.isScoreStart || input.measures[0]?.time !== undefined
  let out = `<scoreDef><keySig sig="${KEYSIG(context.key.fifths)}"/><meterSig count="${count}" unit="${unit}"${shown ? '' : ' visible="false"'}/><staffGrp symbol="bracket" bar.thru="false">`
  for (const part of input.parts) {
    const mine = staves.filter((s) => s.part === part)
    const label = part.name ? `<label>${esc(part.name)}</label>` : ''
    const defs = mine
      .map((s) => {
        const clef = CLEF[clefFor(part, s.staffIndex)] ?? CLEF.treble
        return `<staffDef n="${s.n}" lines="5">${mine.length === 1 ? label : ''}<clef ${clef}/></staffDef>`
      })
      .join('')
    out +=
      mine.length > 1 ? `<staffGrp symbol="brace" bar.thru="true">${label}${defs}</staffGrp>` : defs
  }
  return out + '</staffGrp></scoreDef>'
}

/** The MEI of one chunk (a system) of measures. */
export function chunkMei(input: ChunkInput): ChunkMei {
  const staves = staffList(input.parts)
  const cells = new Map<string, CellRef>()
  const body: string[] = []
  let ctx = input.context
  const spans = spanElements(input, staves)
  input.measures.forEach((m, i) => {
    const number = input.firstNumber + i
    const changes: string[] = []
    if (i > 0 && m.key && m.key.fifths !== ctx.key.fifths)
      changes.push(`<keySig sig="${KEYSIG(m.key.fifths)}"/>`)
    if (i > 0 && m.time && m.time !== ctx.time) {
      const [c, u] = m.time.split('/')
      changes.push(`<meterSig count="${c}" unit="${u}"/>`)
    }
    if (changes.length) body.push(`<scoreDef>${changes.join('')}</scoreDef>`)
    const tempo = m.tempo ?? (input.isScoreStart && i === 0 ? input.metaTempo : undefined)
    if (i > 0) ctx = { time: m.time ?? ctx.time, key: m.key ?? ctx.key }
    const attrs = [`xml:id="${m.id}"`, `n="${number}"`]
    const right =
      m.repeat === 'end' || m.repeat === 'both'
        ? 'rptend'
        : m.barline
          ? RIGHT_BAR[m.barline]
          : undefined
    if (right) attrs.push(`right="${right}"`)
    if (m.repeat === 'start' || m.repeat === 'both') attrs.push('left="rptstart"')
    if (m.pickup) attrs.push('metcon="false"')
    const notes = input.notesIn(m.id)
    const control: string[] = []
    if (tempo) control.push(tempoElement(tempo, `${m.id}.tempo`))
    control.push(...harmElements(m, ctx.time, staves))
    for (const n of notes) control.push(...(spans.get(n.id) ?? []))
    const staffXml = staves
      .map((s) => {
        const staffId = `${m.id}.s${s.n}`
        cells.set(staffId, { measure: m.id, part: s.part.id, staff: s.staffIndex })
        const mine = notes.filter(
          (n) =>
            n.part === s.part.id && Math.min(Math.max(n.staff, 1), s.part.staves) === s.staffIndex,
        )
        return `<staff xml:id="${staffId}" n="${s.n}">${layersXml(mine, ctx, m, s.n, control, staffId)}</staff>`
      })
      .join('')
    body.push(`<measure ${attrs.join(' ')}>${staffXml}${control.join('')}</measure>`)
  })
  const mei =
    '<?xml version="1.0" encoding="UTF-8"?><mei xmlns="http://www.music-encoding.org/ns/mei" meiversion="5.0">' +
    '<meiHead><fileDesc><titleStmt><title/></titleStmt><pubStmt/></fileDesc></meiHead>' +
    `<music><body><mdiv><score>${scoreDef(input, staves)}<section>${body.join('')}</section></score></mdiv></body></music></mei>`
  return { mei, cells }
}

const HAIRPIN_FORM: Record<string, string> = { crescendo: 'cres', diminuendo: 'dim' }

/** Slurs and hairpins (schema version 3) as MEI control events, by the id of the note
 * they start on: a slur's "start" pairs with the next "stop" of the same part and voice
 * (innermost first), a wedge with the next hairpin "stop" of the part. Spans whose end is
 * outside this chunk are not drawn. */
export function spanElements(input: ChunkInput, staves: Staff[]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  const staffOf = (n: Note): number => {
    const part = staves.filter((s) => s.part.id === n.part)
    const index = Math.min(Math.max(n.staff, 1), part.length)
    return part.find((s) => s.staffIndex === index)?.n ?? 1
  }
  const push = (start: Note, xml: string): void => {
    const list = out.get(start.id) ?? []
    list.push(xml)
    out.set(start.id, list)
  }
  const slurs = new Map<string, Note[]>()
  const wedges = new Map<string, { form: string; note: Note }>()
  for (const m of input.measures) {
    for (const n of sortNotes(input.notesIn(m.id))) {
      for (const mark of n.hairpins) {
        const open = wedges.get(n.part)
        if (mark === 'stop' && open) {
          push(
            open.note,
            `<hairpin xml:id="${open.note.id}.h${n.id}" form="${open.form}" staff="${staffOf(open.note)}" startid="#${open.note.id}" endid="#${n.id}"/>`,
          )
          wedges.delete(n.part)
        }
      }
      for (const mark of n.hairpins) {
        const form = HAIRPIN_FORM[mark]
        if (form) wedges.set(n.part, { form, note: n })
      }
      const key = `${n.part} ${n.voice}`
      const open = slurs.get(key) ?? []
      for (const mark of n.slurs) {
        const start = mark === 'stop' ? open.pop() : undefined
        if (start)
          push(
            start,
            `<slur xml:id="${start.id}.s${n.id}" staff="${staffOf(start)}" startid="#${start.id}" endid="#${n.id}"/>`,
          )
      }
      for (const mark of n.slurs) if (mark === 'start') open.push(n)
      slurs.set(key, open)
    }
  }
  return out
}

function sortNotes(notes: Note[]): Note[] {
  return [...notes].sort(
    (a, b) =>
      cmp(parseFraction(a.onset), parseFraction(b.onset)) ||
      Number(b.grace) - Number(a.grace) ||
      a.id.localeCompare(b.id),
  )
}

/** Notes of one staff in layers: by voice, and notes that overlap within a voice spill
 * into an extra layer so nothing is hidden. */
function layersXml(
  notes: Note[],
  ctx: Context,
  m: Measure,
  staffN: number,
  control: string[],
  staffId: string,
): string {
  const bar = barLength(ctx.time)
  if (notes.length === 0) return `<layer n="1"><mRest xml:id="${staffId}.r"/></layer>`
  const byVoice = new Map<number, Note[]>()
  for (const n of notes) {
    let list = byVoice.get(n.voice)
    if (!list) byVoice.set(n.voice, (list = []))
    list.push(n)
  }
  const layers: Note[][] = []
  for (const voice of [...byVoice.keys()].sort((a, b) => a - b)) {
    const lanes: { notes: Note[]; end: Frac }[] = []
    for (const n of sortNotes(byVoice.get(voice) ?? [])) {
      const onset = parseFraction(n.onset)
      const end = add(onset, parseFraction(n.duration))
      let lane = lanes.find((l) => cmp(l.end, onset) <= 0)
      if (!lane) lanes.push((lane = { notes: [], end: ZERO }))
      lane.notes.push(n)
      lane.end = end
    }
    for (const l of lanes) layers.push(l.notes)
  }
  const accidentals = new Map<string, number>()
  const single = layers.length === 1
  return layers
    .map((layer, i) => {
      let pos = ZERO
      const items: LayerItem[] = []
      const spaces = (from: Frac, length: Frac): void => {
        let at = from
        for (const p of durationPieces(length)) {
          items.push({
            xml: `<space ${durAttrs(p)}/>`,
            onset: at,
            length: p.length,
            beamable: false,
          })
          at = add(at, p.length)
        }
      }
      const onlyRest =
        layer.length === 1 &&
        layer[0] &&
        layer[0].pitches.length === 0 &&
        !m.pickup &&
        cmp(parseFraction(layer[0].onset), ZERO) === 0 &&
        cmp(parseFraction(layer[0].duration), bar) === 0
      if (onlyRest && layer[0]) {
        return `<layer n="${i + 1}"><mRest xml:id="${layer[0].id}"/></layer>`
      }
      for (const n of layer) {
        const onset = parseFraction(n.onset)
        if (cmp(onset, pos) > 0) {
          spaces(pos, sub(onset, pos))
          pos = onset
        }
        if (n.clef && CLEF[n.clef])
          items.push({ xml: `<clef ${CLEF[n.clef]}/>`, onset, length: ZERO, beamable: false })
        let at = onset
        for (const item of noteXml(n, ctx, accidentals, staffN, control)) {
          items.push({ ...item, onset: at, ...(n.tuplets.length ? { tuplets: n.tuplets } : {}) })
          at = add(at, item.length)
        }
        if (!n.grace) pos = add(onset, parseFraction(n.duration))
      }
      if (!single && cmp(pos, bar) < 0 && !m.pickup) {
        spaces(pos, sub(bar, pos))
      }
      return `<layer n="${i + 1}">${tupletted(items, ctx.time)}</layer>`
    })
    .join('')
}

interface Item {
  xml: string
  length: Frac
  beamable: boolean
}

interface LayerItem extends Item {
  onset: Frac
  /** the tuplet groups of the note this item draws, outermost first */
  tuplets?: Tuplet[]
}

/** Items of a layer with the runs of each tuplet group (version 4) wrapped in MEI
 * `<tuplet>` elements (nested groups inside), then beamed: a group is beamed within
 * itself, and stands apart from the beams around it. */
function tupletted(items: LayerItem[], time: string, level = 0): string {
  const out: LayerItem[] = []
  for (let i = 0; i < items.length;) {
    const first = items[i] as LayerItem
    const group = first.tuplets?.[level]
    let j = i + 1
    while (group && j < items.length && items[j]?.tuplets?.[level]?.id === group.id) j++
    if (!group) {
      out.push(first)
      i = j
      continue
    }
    const run = items.slice(i, j)
    const length = run.reduce((sum, item) => add(sum, item.length), ZERO)
    const attrs = [
      `xml:id="${schemaIdOf(first.xml.match(/xml:id="([^"]+)"/)?.[1] ?? group.id)}.u${level}"`,
      `num="${group.actual}"`,
      `numbase="${group.normal}"`,
      `bracket.visible="${group.bracket ? 'true' : 'false'}"`,
      group.number === 'none'
        ? 'num.visible="false"'
        : `num.format="${group.number === 'ratio' ? 'ratio' : 'count'}"`,
    ]
    out.push({
      xml: `<tuplet ${attrs.join(' ')}>${tupletted(run, time, level + 1)}</tuplet>`,
      onset: first.onset,
      length,
      beamable: false,
    })
    i = j
  }
  return beamed(out, time)
}

const KIND_TEXT: Record<string, string> = {
  major: '',
  minor: 'm',
  augmented: '+',
  diminished: 'dim',
  dominant: '7',
  'dominant-seventh': '7',
  'major-seventh': 'maj7',
  'minor-seventh': 'm7',
  'diminished-seventh': 'dim7',
  'augmented-seventh': '+7',
  'half-diminished': 'm7\u266d5',
  'half-diminished-seventh': 'm7\u266d5',
  'major-minor': 'm(maj7)',
  'minor-major-seventh': 'm(maj7)',
  'major-sixth': '6',
  'minor-sixth': 'm6',
  'dominant-ninth': '9',
  'major-ninth': 'maj9',
  'minor-ninth': 'm9',
  'dominant-11th': '11',
  'major-11th': 'maj11',
  'minor-11th': 'm11',
  'dominant-13th': '13',
  'major-13th': 'maj13',
  'minor-13th': 'm13',
  'suspended-second': 'sus2',
  'suspended-fourth': 'sus4',
  power: '5',
}

const step = (name: string): string => name.replace(/#/g, '\u266f').replace(/-/g, '\u266d')

/** A chord symbol (version 4) as a lead sheet writes it: root, the kind as written (or
 * its usual abbreviation), added or altered degrees, and the bass after a slash. */
export function chordSymbolText(c: ChordSymbol): string {
  if (c.kind === 'none' || c.root === null) return c.text || 'N.C.'
  const kind = c.text ?? KIND_TEXT[c.kind] ?? c.kind
  const degrees = (c.degrees ?? [])
    .map((d) => {
      const alter = d.alter ? (d.alter > 0 ? '\u266f' : '\u266d').repeat(Math.abs(d.alter)) : ''
      return d.type === 'subtract'
        ? `no${d.value}`
        : `${d.type === 'add' ? 'add' : ''}${alter}${d.value}`
    })
    .join('')
  return `${step(c.root)}${kind}${degrees}${c.bass ? `/${step(c.bass)}` : ''}`
}

const SMUFL_ACCIDENTAL: Record<string, string> = { '\u266d': '\uE260', '\u266f': '\uE262' }

/** Escaped text with its flats and sharps as SMuFL glyphs (the music font has them; the
 * text font Verovio writes may not). */
function harmText(text: string): string {
  return esc(text).replace(
    /[\u266d\u266f]/g,
    (sign) => `<rend glyph.auth="smufl">${SMUFL_ACCIDENTAL[sign] ?? sign}</rend>`,
  )
}

/** The chord symbols of a measure as MEI `<harm>` control events, above the first staff
 * of their part, placed by beat (`tstamp`: 1 is the first beat). */
export function harmElements(m: Measure, time: string, staves: Staff[]): string[] {
  const unit = Number(time.split('/')[1] ?? 4)
  return (m.chordSymbols ?? []).flatMap((c, i) => {
    const staff = staves.find((s) => s.part.id === c.part && s.staffIndex === 1)
    if (!staff) return []
    const onset = parseFraction(c.onset)
    const tstamp = 1 + (onset.n * unit) / (onset.d * 4)
    return [
      `<harm xml:id="${m.id}.h${i}" staff="${staff.n}" tstamp="${Math.round(tstamp * 1000) / 1000}" place="above">${harmText(chordSymbolText(c))}</harm>`,
    ]
  })
}

const ORNAMENT: Record<string, string> = {
  trill: 'trill',
  mordent: 'mordent form="lower"',
  'inverted-mordent': 'mordent form="upper"',
  turn: 'turn form="upper"',
  'inverted-turn': 'turn form="lower"',
}

const BEAMABLE = new Set(['8', '16', '32', '64', '128', '256'])

function noteXml(
  n: Note,
  ctx: Context,
  accidentals: Map<string, number>,
  staffN: number,
  control: string[],
): Item[] {
  const pieces = n.grace ? [{ dur: '8', dots: 0, length: ZERO }] : tupletPieces(n)
  if (pieces.length === 0) return []
  if (n.dynamic)
    control.push(
      `<dynam xml:id="${n.id}.dyn" staff="${staffN}" startid="#${n.id}">${esc(n.dynamic)}</dynam>`,
    )
  if (n.articulations.includes('fermata'))
    control.push(`<fermata xml:id="${n.id}.ferm" staff="${staffN}" startid="#${n.id}"/>`)
  const artics = n.articulations
    .filter((a) => ARTIC[a])
    .map((a, i) => `<artic xml:id="${n.id}.a${i}" artic="${ARTIC[a]}"/>`)
    .join('')
  for (const [i, name] of n.ornaments.entries()) {
    const ornament = ORNAMENT[name]
    if (ornament)
      control.push(`<${ornament} xml:id="${n.id}.o${i}" staff="${staffN}" startid="#${n.id}"/>`)
  }
  for (const [i, finger] of n.fingerings.entries())
    control.push(
      `<fing xml:id="${n.id}.f${i}" staff="${staffN}" startid="#${n.id}">${esc(finger)}</fing>`,
    )
  const lyric = [n.lyric, ...n.verses]
    .map((text, i) => (text ? `<verse n="${i + 1}"><syl>${esc(text)}</syl></verse>` : ''))
    .join('')
  const grace = n.grace ? ' grace="unacc"' : ''
  return pieces.map((piece, j) => ({
    xml: pieceXml(piece, j),
    length: piece.length,
    beamable: !n.grace && n.pitches.length > 0 && BEAMABLE.has(piece.dur),
  }))

  function pieceXml(piece: Piece, j: number): string {
    const id = j === 0 ? n.id : `${n.id}.t${j}`
    const extras = j === 0 ? artics : ''
    if (n.pitches.length === 0) return `<rest xml:id="${id}" ${durAttrs(piece)}/>`
    const tieOf = (k: number): string => {
      const schema = n.ties[k] ?? null
      const into = j > 0 || schema === 'stop' || schema === 'continue'
      const out = j < pieces.length - 1 || schema === 'start' || schema === 'continue'
      return into && out ? ' tie="m"' : into ? ' tie="t"' : out ? ' tie="i"' : ''
    }
    const noteAttrs = (pitch: string, k: number): string => {
      const p = parsePitch(pitch)
      const key = `${p.step}${p.octave}`
      const current = accidentals.get(key) ?? keyAlter(p.step, ctx.key.fifths)
      const tiedIn = j > 0 || n.ties[k] === 'stop' || n.ties[k] === 'continue'
      let acc = ''
      if (p.alter !== current && !tiedIn) acc = ` accid="${ACCID[p.alter] ?? 'n'}"`
      else if (p.alter !== 0) acc = ` accid.ges="${ACCID[p.alter] ?? 'n'}"`
      accidentals.set(key, p.alter)
      return `pname="${p.step.toLowerCase()}" oct="${p.octave}"${acc}${tieOf(k)}`
    }
    if (n.pitches.length === 1) {
      return `<note xml:id="${id}" ${durAttrs(piece)}${grace} ${noteAttrs(n.pitches[0] ?? 'C4', 0)}>${extras}${j === 0 ? lyric : ''}</note>`
    }
    const inner = n.pitches
      .map(
        (pitch, k) =>
          `<note xml:id="${id}.p${k}" ${noteAttrs(pitch, k)}>${j === 0 && k === 0 ? lyric : ''}</note>`,
      )
      .join('')
    return `<chord xml:id="${id}" ${durAttrs(piece)}${grace}>${extras}${inner}</chord>`
  }
}

/** Beam notes shorter than a quarter within each beat (a dotted quarter in 6/8, 9/8,
 * 12/8), breaking at rests and gaps, as engravers do by default. */
function beamed(
  items: { xml: string; onset: Frac; length: Frac; beamable: boolean }[],
  time: string,
): string {
  const [count, unit] = time.split('/').map(Number)
  const beat =
    (unit ?? 4) >= 8 && (count ?? 4) % 3 === 0 && (count ?? 4) > 3 ? frac(3, 2) : frac(4, unit ?? 4)
  const group = (f: Frac): number => Math.floor((f.n * beat.d) / (f.d * beat.n))
  const out: string[] = []
  let run: typeof items = []
  const flush = (): void => {
    if (run.length >= 2) out.push(`<beam>${run.map((r) => r.xml).join('')}</beam>`)
    else out.push(...run.map((r) => r.xml))
    run = []
  }
  for (const item of items) {
    const last = run[run.length - 1]
    if (
      item.beamable &&
      last &&
      group(last.onset) === group(item.onset) &&
      cmp(add(last.onset, last.length), item.onset) === 0
    )
      run.push(item)
    else {
      flush()
      if (item.beamable) run.push(item)
      else out.push(item.xml)
    }
  }
  flush()
  return out.join('')
}

/** The schema id an rendered element id belongs to. */
export const schemaIdOf = (svgId: string): string => svgId.split('.')[0] ?? svgId
