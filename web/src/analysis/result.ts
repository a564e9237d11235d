// The analysis server-sent events' result, read into what the overlays draw. Tolerant:
// a missing or malformed analysis gives empty lists (an error result draws nothing).

export interface KeySpan {
  /** index of the first and one past the last measure of the span */
  start: number
  end: number
  key: string
  label: string
}

export interface Roman {
  measure: string
  onset: string
  figure: string
  key: string
}

export interface Cadence {
  measure: string
  onset: string
  label: string
  short: string
  figures: string[]
}

export interface VoiceIssue {
  type: string
  label: string
  measure: string
  onset: string
  notes: string[]
}

export interface Contour {
  part: string
  name: string
  contour: string
  ambitus: string
}

export interface Density {
  parts: string[]
  /** per measure (in score order): attacks per beat, one value per part */
  measures: { measure: string; density: number[] }[]
}

export interface AnalysisView {
  version: string
  keys: KeySpan[]
  modulations: { measure: string; label: string }[]
  romans: Roman[]
  cadences: Cadence[]
  issues: VoiceIssue[]
  contours: Contour[]
  density: Density
}

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {})
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : [])
const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []

const CADENCE_SHORT: Record<string, string> = {
  'perfect authentic cadence': 'PAC',
  'imperfect authentic cadence': 'IAC',
  'half cadence': 'HC',
  'plagal cadence': 'PC',
  'deceptive cadence': 'DC',
}

/** The inner `result` of one analysis envelope of the combined result. */
function inner(all: Obj, name: string): Obj {
  return obj(obj(all[name]).result)
}

/** Read one `analysis` event's data (the JSON of `GET /api/scores/{id}/analysis`). */
export function readAnalysis(data: unknown, measureOrder: string[]): AnalysisView {
  const body = obj(data)
  // `result` holds `{version, analyses: {name: envelope}}` (older results: the envelopes).
  const result = obj(body.result)
  const all = result.analyses ? obj(result.analyses) : result
  const index = new Map(measureOrder.map((id, i) => [id, i]))

  const key = inner(all, 'key')
  const keys: KeySpan[] = []
  for (const m of arr(key.measures)) {
    const i = index.get(str(m.measure))
    if (i === undefined) continue
    const last = keys[keys.length - 1]
    if (last && last.key === str(m.key) && last.end === i) last.end = i + 1
    else keys.push({ start: i, end: i + 1, key: str(m.key), label: str(m.label) || str(m.key) })
  }
  const modulations = arr(key.modulations).map((m) => ({
    measure: str(m.measure),
    label: str(m.label),
  }))

  const harmony = inner(all, 'harmony')
  const romans: Roman[] = arr(harmony.slices)
    .filter((s) => s.attack !== false && typeof s.figure === 'string' && s.figure)
    .map((s) => ({
      measure: str(s.measure),
      onset: str(s.onset) || '0',
      figure: str(s.figure),
      key: str(s.key),
    }))
  // A figure repeated by the next slice (a passing note, a held chord) is drawn once.
  const distinct = romans.filter((r, i) => {
    const prev = romans[i - 1]
    return !prev || prev.figure !== r.figure || prev.key !== r.key || prev.measure !== r.measure
  })
  const cadences: Cadence[] = arr(harmony.cadences).map((c) => {
    const label = str(c.label) || str(c.type)
    return {
      measure: str(c.measure),
      onset: str(c.onset) || '0',
      label,
      short: CADENCE_SHORT[label] ?? label.toUpperCase().slice(0, 3),
      figures: strs(c.figures),
    }
  })

  const issues: VoiceIssue[] = arr(inner(all, 'voice_leading').issues).map((v) => ({
    type: str(v.type),
    label: str(v.label) || str(v.type).replace(/_/g, ' '),
    measure: str(v.measure),
    onset: str(v.onset) || '0',
    notes: strs(v.notes),
  }))

  const contours: Contour[] = arr(inner(all, 'melody').parts).map((p) => {
    const amb = obj(p.ambitus)
    return {
      part: str(p.part),
      name: str(p.name),
      contour: str(p.contour),
      ambitus: amb.lowest ? `${str(amb.lowest)}–${str(amb.highest)}` : '',
    }
  })

  const rhythm = inner(all, 'rhythm')
  const density: Density = {
    parts: strs(rhythm.parts),
    measures: arr(rhythm.measures)
      .filter((m) => index.has(str(m.measure)))
      .map((m) => ({
        measure: str(m.measure),
        density: Array.isArray(m.density)
          ? m.density.map((x) => (typeof x === 'number' ? x : 0))
          : [],
      })),
  }

  return {
    version: str(body.version),
    keys,
    modulations,
    romans: distinct,
    cadences,
    issues,
    contours,
    density,
  }
}

/** Heights of a Parsons code (U/D/R) as a line: 0 at the start, +1 up, −1 down. */
export function contourLevels(code: string): number[] {
  const levels = [0]
  let level = 0
  for (const c of code) {
    if (c === 'U') level += 1
    else if (c === 'D') level -= 1
    else if (c !== 'R') continue
    levels.push(level)
  }
  return levels
}

/** Whether an issue is drawn as lines between two voices (parallels and hidden motion). */
export function isPairIssue(type: string): boolean {
  return /^(parallel|hidden)_/.test(type)
}
