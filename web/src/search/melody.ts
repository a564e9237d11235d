// A melody for the search: the notes of a selection (one line, read the way the server
// indexes scores: a chord counts as its highest pitch, rests and grace notes are
// skipped, a tied continuation of the same pitch lengthens the note before it), typed
// note names, and labels for hits. Pure.
import type { ScoreSnapshot } from '../score/model'
import type { Note } from '../score/schema'
import { add, cmp, formatFraction, parseFraction, type Frac } from '../score/fraction'
import { midi, parsePitch } from '../score/pitch'

/** The server's bounds for a melodic query. */
export const MIN_NOTES = 4
export const MAX_NOTES = 64

export interface Melody {
  /** Pitch names (music21 spelling: "C4", "F#5", "B-3"). */
  notes: string[]
  /** One duration per note, in quarter notes ("1", "1/2", "3/2"). */
  durations: string[]
  /** The part and voice the notes were taken from. */
  part: string
  voice: number
}

interface Entry {
  note: Note
  measure: number
  onset: Frac
  pitch: string
  key: number
  tied: boolean
}

function top(note: Note): { pitch: string; key: number; index: number } | null {
  let best: { pitch: string; key: number; index: number } | null = null
  for (const [index, pitch] of note.pitches.entries()) {
    let key: number
    try {
      key = midi(parsePitch(pitch))
    } catch {
      continue
    }
    if (best === null || key > best.key) best = { pitch, key, index }
  }
  return best
}

/**
 * The melody of the selected notes: the line (part and voice) holding most of them,
 * in time order. `null` when nothing selected is a pitched note.
 */
export function selectionMelody(snapshot: ScoreSnapshot, ids: readonly string[]): Melody | null {
  const order = new Map(snapshot.measures.map((m, i) => [m.id, i]))
  const lines = new Map<string, Entry[]>()
  for (const id of ids) {
    const note = snapshot.notes.get(id)
    if (!note || note.grace || !order.has(note.measure)) continue
    const t = top(note)
    if (t === null) continue
    const tie = note.ties[t.index]
    const entry: Entry = {
      note,
      measure: order.get(note.measure) ?? 0,
      onset: parseFraction(note.onset),
      pitch: t.pitch,
      key: t.key,
      tied: tie === 'stop' || tie === 'continue',
    }
    const line = `${note.part}\u0000${note.voice}`
    lines.set(line, [...(lines.get(line) ?? []), entry])
  }
  let chosen: Entry[] = []
  for (const entries of lines.values()) if (entries.length > chosen.length) chosen = entries
  const first = chosen[0]
  if (!first) return null
  chosen.sort((a, b) => a.measure - b.measure || cmp(a.onset, b.onset) || b.key - a.key)
  const notes: string[] = []
  const keys: number[] = []
  const durations: Frac[] = []
  let last: Entry | null = null
  for (const e of chosen) {
    if (last && last.measure === e.measure && cmp(last.onset, e.onset) === 0) continue
    last = e
    const duration = parseFraction(e.note.duration)
    const previous = durations.length - 1
    if (e.tied && previous >= 0 && keys[previous] === e.key) {
      durations[previous] = add(durations[previous] as Frac, duration)
      continue
    }
    notes.push(e.pitch)
    keys.push(e.key)
    durations.push(duration)
  }
  return {
    notes,
    durations: durations.map(formatFraction),
    part: first.note.part,
    voice: first.note.voice,
  }
}

/** Note names or durations typed in a box: separated by spaces or commas. */
export function splitList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean)
}

/** Typed note names as the server reads them ("Eb4" and "E-4" alike, "c#" too). */
export function typedNotes(text: string): { notes: string[]; error: string | null } {
  const notes = splitList(text)
  const bad = notes.find((n) => !/^[A-Ga-g](##|#|bb|b|--|-)?\d?$/.test(n))
  if (bad) return { notes, error: `"${bad}" is not a note name (try C4, Eb4, F#5)` }
  if (notes.length < MIN_NOTES || notes.length > MAX_NOTES)
    return { notes, error: `Give ${MIN_NOTES} to ${MAX_NOTES} notes (you gave ${notes.length}).` }
  return { notes, error: null }
}

/** "bar 3" or "bars 3–5" from a hit's measure numbers. */
export function barsLabel(numbers: readonly number[]): string {
  if (numbers.length === 0) return 'bars ?'
  const lo = Math.min(...numbers)
  const hi = Math.max(...numbers)
  return lo === hi ? `bar ${lo}` : `bars ${lo}–${hi}`
}

/** A similarity (0..1) as a percentage. */
export const percent = (similarity: number): string => `${Math.round(similarity * 100)}%`
