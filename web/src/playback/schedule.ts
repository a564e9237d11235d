// What playback plays: every sounding note of the snapshot as an event in seconds, at the
// score's tempo marks (a mark holds until the next one), tied notes sounding as one.
import type { ScoreSnapshot } from '../score/model'
import { barLength, parseFraction, toNumber } from '../score/fraction'
import { midi, parsePitch } from '../score/pitch'

export interface NoteEvent {
  id: string
  part: string
  midi: number
  /** seconds from the start of the score */
  time: number
  duration: number
}

export interface Timeline {
  events: NoteEvent[]
  /** per measure, in score order: start in quarters and in seconds, length in quarters */
  measures: { id: string; quarters: number; seconds: number; length: number }[]
  /** seconds per quarter note from each measure on */
  secondsPerQuarter: number[]
  total: number
}

const DEFAULT_BPM = 100

function secondsPerQuarter(bpm: number, beat?: string): number {
  const beatQuarters = beat ? toNumber(parseFraction(beat)) || 1 : 1
  return 60 / (Math.max(1, bpm) * beatQuarters)
}

/** The score as timed note events (pure: no audio). */
export function buildTimeline(snap: ScoreSnapshot): Timeline {
  const measures: Timeline['measures'] = []
  const spq: number[] = []
  let time = '4/4'
  let current = secondsPerQuarter(snap.meta.tempo?.bpm ?? DEFAULT_BPM, snap.meta.tempo?.beat)
  let quarters = 0
  let seconds = 0
  for (const m of snap.measures) {
    if (m.time) time = m.time
    if (m.tempo) current = secondsPerQuarter(m.tempo.bpm, m.tempo.beat)
    let length = toNumber(barLength(time))
    if (m.pickup) {
      let end = 0
      for (const id of snap.byMeasure.get(m.id) ?? []) {
        const n = snap.notes.get(id)
        if (n)
          end = Math.max(
            end,
            toNumber(parseFraction(n.onset)) + toNumber(parseFraction(n.duration)),
          )
      }
      if (end > 0) length = Math.min(length, end)
    }
    measures.push({ id: m.id, quarters, seconds, length })
    spq.push(current)
    quarters += length
    seconds += length * current
  }
  const index = new Map(measures.map((m, i) => [m.id, i]))
  const at = (i: number, onset: number) => {
    const m = measures[i]
    return m ? m.seconds + onset * (spq[i] ?? 0.6) : 0
  }
  // Tied continuations are looked up by (part, voice, start in quarters, pitch).
  const starts = new Map<string, { end: number; measure: number; onset: number; tie: string }>()
  const rows: {
    id: string
    part: string
    voice: number
    pitch: string
    measure: number
    onset: number
    dur: number
    tie: string
  }[] = []
  for (const n of snap.notes.values()) {
    const i = index.get(n.measure)
    if (i === undefined || n.grace || n.pitches.length === 0) continue
    const onset = toNumber(parseFraction(n.onset))
    const dur = toNumber(parseFraction(n.duration))
    n.pitches.forEach((pitch, p) => {
      const tie = n.ties[p] ?? ''
      const row = { id: n.id, part: n.part, voice: n.voice, pitch, measure: i, onset, dur, tie }
      rows.push(row)
      const abs = (measures[i]?.quarters ?? 0) + onset
      starts.set(`${n.part}|${n.voice}|${abs.toFixed(4)}|${pitch}`, {
        end: abs + dur,
        measure: i,
        onset: onset + dur,
        tie,
      })
    })
  }
  const events: NoteEvent[] = []
  for (const r of rows) {
    if (r.tie === 'stop' || r.tie === 'continue') continue
    let endMeasure = r.measure
    let endOnset = r.onset + r.dur
    let tie = r.tie
    let abs = (measures[r.measure]?.quarters ?? 0) + endOnset
    for (let guard = 0; tie === 'start' || tie === 'continue'; guard++) {
      const next = starts.get(`${r.part}|${r.voice}|${abs.toFixed(4)}|${r.pitch}`)
      if (!next || guard > 64) break
      endMeasure = next.measure
      endOnset = next.onset
      abs = next.end
      tie = next.tie
    }
    let value: number
    try {
      value = midi(parsePitch(r.pitch))
    } catch {
      continue
    }
    const start = at(r.measure, r.onset)
    events.push({
      id: r.id,
      part: r.part,
      midi: value,
      time: start,
      duration: Math.max(0.05, at(endMeasure, endOnset) - start),
    })
  }
  events.sort((a, b) => a.time - b.time || a.midi - b.midi)
  return { events, measures, secondsPerQuarter: spq, total: seconds }
}

/** Where the music is at `seconds`: the measure's index and the onset in quarters. */
export function positionAt(
  timeline: Timeline,
  seconds: number,
): { measure: number; onset: number } | null {
  const ms = timeline.measures
  if (ms.length === 0) return null
  let lo = 0
  let hi = ms.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if ((ms[mid]?.seconds ?? 0) <= seconds) lo = mid
    else hi = mid - 1
  }
  const m = ms[lo]
  if (!m) return null
  const onset = (seconds - m.seconds) / (timeline.secondsPerQuarter[lo] ?? 1)
  return { measure: lo, onset: Math.max(0, Math.min(m.length, onset)) }
}

/** Seconds of a (measure index, onset in quarters) position. */
export function secondsAt(timeline: Timeline, measure: number, onset: number): number {
  const m = timeline.measures[measure]
  return m ? m.seconds + onset * (timeline.secondsPerQuarter[measure] ?? 0) : timeline.total
}

/** The stretch to play for a selection: from its first attack to its last release. */
export function selectionSpan(
  timeline: Timeline,
  ids: Iterable<string>,
): { start: number; end: number } | null {
  const wanted = new Set(ids)
  let start = Infinity
  let end = -Infinity
  for (const e of timeline.events) {
    if (!wanted.has(e.id)) continue
    start = Math.min(start, e.time)
    end = Math.max(end, e.time + e.duration)
  }
  return Number.isFinite(start) ? { start, end } : null
}

/** Which parts sound, given the muted and soloed sets (solo wins over mute). */
export function audible(part: string, muted: ReadonlySet<string>, soloed: ReadonlySet<string>) {
  return soloed.size > 0 ? soloed.has(part) : !muted.has(part)
}
