// Pitches as music21 names ("C4", "F#5", "B-3") and the arithmetic keyboard entry needs.
export const STEPS = ['C', 'D', 'E', 'F', 'G', 'A', 'B'] as const
export type Step = (typeof STEPS)[number]
const STEP_SEMITONES = [0, 2, 4, 5, 7, 9, 11]
const SHARP_ORDER: Step[] = ['F', 'C', 'G', 'D', 'A', 'E', 'B']

export interface Pitch {
  step: Step
  alter: number
  octave: number
}

export function parsePitch(name: string): Pitch {
  const m = /^([A-G])(#{1,3}|-{1,3})?([0-9])$/.exec(name)
  if (!m) throw new Error(`not a pitch: ${name}`)
  const acc = m[2] ?? ''
  return {
    step: m[1] as Step,
    alter: acc.startsWith('#') ? acc.length : -acc.length,
    octave: Number(m[3]),
  }
}

export function formatPitch(p: Pitch): string {
  const acc = p.alter > 0 ? '#'.repeat(p.alter) : '-'.repeat(-p.alter)
  return `${p.step}${acc}${p.octave}`
}

export const stepIndex = (s: Step): number => STEPS.indexOf(s)
export const diatonic = (p: Pitch): number => p.octave * 7 + stepIndex(p.step)
export const midi = (p: Pitch): number =>
  12 * (p.octave + 1) + (STEP_SEMITONES[stepIndex(p.step)] ?? 0) + p.alter

/** The alteration a key signature gives a step (fifths: -7..7). */
export function keyAlter(step: Step, fifths: number): number {
  if (fifths > 0) return SHARP_ORDER.slice(0, fifths).includes(step) ? 1 : 0
  if (fifths < 0) return [...SHARP_ORDER].reverse().slice(0, -fifths).includes(step) ? -1 : 0
  return 0
}

function fromDiatonic(d: number, alter: number): Pitch | null {
  const octave = Math.floor(d / 7)
  if (octave < 0 || octave > 9) return null
  return { step: STEPS[((d % 7) + 7) % 7] as Step, alter, octave }
}

/** A letter typed at the keyboard: the step in the key, in the octave nearest `previous`. */
export function nearestPitch(step: Step, fifths: number, previous: Pitch | null): Pitch {
  const alter = keyAlter(step, fifths)
  const ref = previous ?? { step: 'B', alter: 0, octave: 4 } // first note: around middle C..B4
  const refD = diatonic(ref)
  let best: Pitch | null = null
  for (let oct = ref.octave - 1; oct <= ref.octave + 1; oct++) {
    const cand = { step, alter, octave: oct }
    if (oct < 0 || oct > 9) continue
    if (best === null || Math.abs(diatonic(cand) - refD) < Math.abs(diatonic(best) - refD))
      best = cand
  }
  return best ?? { step, alter, octave: 4 }
}

/** Up or down one diatonic step, keeping the key's alteration for the new step. */
export function stepBy(p: Pitch, steps: number, fifths: number): Pitch {
  const q = fromDiatonic(diatonic(p) + steps, 0)
  if (q === null) return p
  return { ...q, alter: keyAlter(q.step, fifths) }
}

export function octaveBy(p: Pitch, octaves: number): Pitch {
  const octave = p.octave + octaves
  return octave < 0 || octave > 9 ? p : { ...p, octave }
}

/** Up or down a semitone, spelled the way the key prefers (sharps in sharp keys). */
export function semitoneBy(p: Pitch, delta: 1 | -1, fifths: number): Pitch {
  const target = midi(p) + delta
  const candidates: Pitch[] = []
  for (let d = diatonic(p) - 2; d <= diatonic(p) + 2; d++) {
    const base = fromDiatonic(d, 0)
    if (base === null) continue
    const alter = target - midi(base)
    if (Math.abs(alter) <= 1) candidates.push({ ...base, alter })
  }
  if (candidates.length === 0) return p
  const score = (c: Pitch): number => {
    if (c.alter === keyAlter(c.step, fifths)) return 0 // diatonic in the key
    if (c.alter === 0) return 1
    return delta > 0 === c.alter > 0 ? 2 : 3 // raise with sharps, lower with flats
  }
  candidates.sort((a, b) => score(a) - score(b))
  return candidates[0] ?? p
}
