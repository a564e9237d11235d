// Editing commands on a live score. Each is one transaction with the local origin, so a
// collaborator receives it as one update and undo takes it back as one step. Values are
// written with `noteValue`, so nothing off-schema ever reaches the document.
import * as Y from 'yjs'
import {
  add,
  barLength,
  cmp,
  formatFraction,
  frac,
  parseFraction,
  sub,
  ZERO,
  type Frac,
} from './fraction'
import { clefFor, contexts } from '../render/mei'
import {
  formatPitch,
  nearestPitch,
  octaveBy,
  parsePitch,
  semitoneBy,
  stepBy,
  type Pitch,
  type Step,
} from './pitch'
import {
  newId,
  noteValue,
  type Json,
  type Measure,
  type Note,
  type NoteInput,
  type Tie,
} from './schema'
import type { Cursor, ScoreSession } from './session'

export interface Clipboard {
  measures: number
  parts: number
  notes: { measureOffset: number; partOffset: number; note: NoteInput }[]
}

const toInput = (n: Note): NoteInput => ({
  measure: n.measure,
  part: n.part,
  onset: n.onset,
  duration: n.duration,
  pitches: n.pitches,
  voice: n.voice,
  staff: n.staff,
  ties: n.ties,
  lyric: n.lyric,
  articulations: n.articulations,
  dynamic: n.dynamic,
  grace: n.grace,
  slurs: n.slurs,
  hairpins: n.hairpins,
  ornaments: n.ornaments,
  fingerings: n.fingerings,
  verses: n.verses,
  clef: n.clef,
  tuplets: n.tuplets,
})

export class Editor {
  constructor(readonly session: ScoreSession) {}

  private get snap() {
    return this.session.model.snapshot
  }
  private get notes() {
    return this.session.model.roots.notes
  }

  measureIndex(id: string): number {
    return this.snap.measures.findIndex((m) => m.id === id)
  }

  fifthsAt(measureId: string): number {
    const i = this.measureIndex(measureId)
    return contexts(this.snap.measures, this.snap.meta.tempo)[i]?.key.fifths ?? 0
  }

  barAt(measureId: string): Frac {
    const i = this.measureIndex(measureId)
    const ctx = contexts(this.snap.measures)[i]
    return barLength(ctx?.time ?? '4/4')
  }

  /** Notes of one voice in a cell, by onset. */
  voiceNotes(c: Pick<Cursor, 'measure' | 'part' | 'staff' | 'voice'>): Note[] {
    return this.session.model
      .notesIn(c.measure, c.part)
      .filter((n) => n.voice === c.voice && n.staff === c.staff)
      .sort((a, b) => cmp(parseFraction(a.onset), parseFraction(b.onset)))
  }

  private write(id: string, note: NoteInput): void {
    this.notes.set(id, noteValue(note) as never)
  }

  /** Enter a note (pitches) or rest ([]) at the cursor, replacing what starts inside its
   * span and shortening a note that runs into it, MuseScore-style. Returns the new note id
   * and where the cursor goes next (the next bar when this one is full; a new bar is
   * appended at the end of the score). */
  enter(cursor: Cursor, pitches: string[], duration: Frac): { id: string; next: Cursor } {
    const onset = parseFraction(cursor.onset)
    const bar = this.barAt(cursor.measure)
    const room = sub(bar, onset)
    const length = cmp(room, ZERO) > 0 && cmp(duration, room) > 0 ? room : duration
    const end = add(onset, length)
    const id = newId('n')
    let next: Cursor = { ...cursor, onset: formatFraction(end) }
    this.session.transact(() => {
      for (const n of this.voiceNotes(cursor)) {
        const start = parseFraction(n.onset)
        const stop = add(start, parseFraction(n.duration))
        if (cmp(start, onset) >= 0 && cmp(start, end) < 0) this.notes.delete(n.id)
        else if (cmp(start, onset) < 0 && cmp(stop, onset) > 0)
          this.write(n.id, {
            ...toInput(n),
            duration: formatFraction(sub(onset, start)),
            tuplets: [], // a new length leaves its tuplet group
          })
      }
      this.write(id, {
        measure: cursor.measure,
        part: cursor.part,
        staff: cursor.staff,
        voice: cursor.voice,
        onset: formatFraction(onset),
        duration: formatFraction(length),
        pitches,
      })
      if (cmp(end, bar) >= 0) {
        const i = this.measureIndex(cursor.measure)
        let following = this.snap.measures[i + 1]?.id
        if (!following) following = this.insertMeasureRaw(i + 1)
        next = { ...cursor, measure: following, onset: '0' }
      }
    })
    return { id, next }
  }

  /** The pitch a typed letter means at the cursor: in the key, nearest the last note. */
  letterPitch(cursor: Cursor, step: Step, previous: string | null): string {
    let prev: Pitch | null = null
    if (previous) {
      try {
        prev = parsePitch(previous)
      } catch {
        prev = null
      }
    }
    if (prev === null) {
      // No note yet: start in the middle of the staff's clef.
      const part = this.snap.parts.find((p) => p.id === cursor.part)
      const clef = part ? clefFor(part, cursor.staff) : 'treble'
      const middle: Record<string, string> = {
        bass: 'D3',
        bass8vb: 'D2',
        alto: 'C4',
        tenor: 'A3',
        treble8vb: 'B3',
        treble8va: 'B5',
        baritone: 'F3',
      }
      prev = parsePitch(middle[clef] ?? 'B4')
    }
    return formatPitch(nearestPitch(step, this.fifthsAt(cursor.measure), prev))
  }

  private update(ids: Iterable<string>, change: (n: Note) => NoteInput | null): void {
    this.session.transact(() => {
      for (const id of ids) {
        const n = this.snap.notes.get(id)
        if (!n) continue
        const next = change(n)
        if (next) this.write(id, next)
      }
    })
  }

  setDuration(ids: string[], duration: Frac): void {
    this.update(ids, (n) => ({ ...toInput(n), duration: formatFraction(duration), tuplets: [] }))
  }

  /** Move pitches: 'semitone' (spelled for the key), 'step' (diatonic) or 'octave'. */
  transpose(ids: string[], how: 'semitone' | 'step' | 'octave', dir: 1 | -1): void {
    this.update(ids, (n) => {
      if (n.pitches.length === 0) return null
      const fifths = this.fifthsAt(n.measure)
      const pitches = n.pitches.map((name) => {
        const p = parsePitch(name)
        const q =
          how === 'semitone'
            ? semitoneBy(p, dir, fifths)
            : how === 'step'
              ? stepBy(p, dir, fifths)
              : octaveBy(p, dir * 1)
        return formatPitch(q)
      })
      return { ...toInput(n), pitches, ties: [] } // new pitches: the ties are dropped
    })
  }

  /** Add a chord tone: the letter's step above the note's top pitch. */
  addChordTone(id: string, step: Step): void {
    this.update([id], (n) => {
      if (n.pitches.length === 0 || n.pitches.length >= 16) return null
      const top = parsePitch(n.pitches[n.pitches.length - 1] ?? 'C4')
      const fifths = this.fifthsAt(n.measure)
      let p = nearestPitch(step, fifths, top)
      if (p.octave * 7 + 'CDEFGAB'.indexOf(p.step) <= top.octave * 7 + 'CDEFGAB'.indexOf(top.step))
        p = octaveBy(p, 1)
      const name = formatPitch(p)
      if (n.pitches.includes(name)) return null
      return { ...toInput(n), pitches: [...n.pitches, name], ties: [...n.ties, null] }
    })
  }

  remove(ids: string[]): void {
    this.session.transact(() => {
      for (const id of ids) this.notes.delete(id)
    })
  }

  /** Toggle a tie from each selected note to the next note of its voice. */
  toggleTie(ids: string[]): void {
    this.session.transact(() => {
      for (const id of ids) {
        const n = this.snap.notes.get(id)
        if (!n || n.pitches.length === 0) continue
        const on = !n.ties.some((t) => t === 'start' || t === 'continue')
        const ties: Tie[] = n.ties.map((t) => {
          if (on) return t === 'stop' ? 'continue' : 'start'
          return t === 'continue' ? 'stop' : t === 'start' ? null : t
        })
        this.write(id, { ...toInput(n), ties })
        const next = this.nextInVoice(n)
        if (next) {
          const nextTies: Tie[] = next.pitches.map((p, i) => {
            const t = next.ties[i] ?? null
            if (!n.pitches.includes(p)) return t
            if (on) return t === 'start' ? 'continue' : 'stop'
            return t === 'continue' ? 'start' : t === 'stop' ? null : t
          })
          this.write(next.id, { ...toInput(next), ties: nextTies })
        }
      }
    })
  }

  nextInVoice(n: Note): Note | null {
    const here = this.voiceNotes(n)
    const i = here.findIndex((x) => x.id === n.id)
    if (i >= 0 && here[i + 1]) return here[i + 1] ?? null
    const mi = this.measureIndex(n.measure)
    const nextMeasure = this.snap.measures[mi + 1]
    if (!nextMeasure) return null
    return this.voiceNotes({ ...n, measure: nextMeasure.id })[0] ?? null
  }

  private insertMeasureRaw(index: number, attributes: Record<string, Json> = {}): string {
    const id = newId('m')
    const measures = this.session.model.roots.measures
    measures.insert(Math.max(0, Math.min(index, measures.length)), [
      new Y.Map(Object.entries({ id, ...attributes })),
    ])
    return id
  }

  insertMeasure(index: number): string {
    let id = ''
    this.session.transact(() => {
      id = this.insertMeasureRaw(index)
    })
    return id
  }

  /** Delete measure columns and their notes. */
  deleteMeasures(ids: string[]): void {
    const r = this.session.model.roots
    this.session.transact(() => {
      for (const id of ids) {
        const index = r.measures
          .toArray()
          .findIndex((m) => m instanceof Y.Map && m.get('id') === id)
        if (index >= 0) r.measures.delete(index, 1)
        for (const noteId of [...(this.snap.byMeasure.get(id) ?? [])]) r.notes.delete(noteId)
      }
    })
  }

  /** Set (or with null clear) a measure attribute: time, key, tempo, barline, repeat. */
  setMeasureAttribute(id: string, name: keyof Measure, value: Json | null): void {
    const r = this.session.model.roots
    this.session.transact(() => {
      const m = r.measures.toArray().find((x) => x instanceof Y.Map && x.get('id') === id)
      if (!m) return
      if (value === null) m.delete(name)
      else m.set(name, value)
    })
  }

  addPart(name: string, clef?: string): string {
    const id = newId('p')
    const fields: Record<string, Json> = { id, name }
    if (clef) fields.clef = clef
    this.session.transact(() => {
      this.session.model.roots.parts.push([new Y.Map(Object.entries(fields))])
    })
    return id
  }

  renamePart(id: string, name: string): void {
    this.session.transact(() => {
      const p = this.session.model.roots.parts
        .toArray()
        .find((x) => x instanceof Y.Map && x.get('id') === id)
      p?.set('name', name)
    })
  }

  /** Remove a part and its notes. */
  removePart(id: string): void {
    const r = this.session.model.roots
    this.session.transact(() => {
      const index = r.parts.toArray().findIndex((x) => x instanceof Y.Map && x.get('id') === id)
      if (index >= 0) r.parts.delete(index, 1)
      for (const n of [...this.snap.notes.values()]) if (n.part === id) r.notes.delete(n.id)
    })
  }

  /** Copy measures [first, last] of the given parts. */
  copy(first: number, last: number, partIds: string[]): Clipboard {
    const parts = this.snap.parts
    const partIndex = new Map(parts.map((p, i) => [p.id, i]))
    const top = Math.min(...partIds.map((p) => partIndex.get(p) ?? 0))
    const notes: Clipboard['notes'] = []
    for (let i = first; i <= last; i++) {
      const m = this.snap.measures[i]
      if (!m) continue
      for (const n of this.session.model.notesIn(m.id)) {
        if (!partIds.includes(n.part)) continue
        notes.push({
          measureOffset: i - first,
          partOffset: (partIndex.get(n.part) ?? 0) - top,
          note: toInput(n),
        })
      }
    }
    return {
      measures: last - first + 1,
      parts: Math.max(...partIds.map((p) => partIndex.get(p) ?? 0)) - top + 1,
      notes,
    }
  }

  /** Paste at a measure and part: the target cells are cleared, then filled; bars are
   * appended when the paste runs past the end. */
  paste(clip: Clipboard, measureIndex: number, partId: string): void {
    const parts = this.snap.parts
    const top = parts.findIndex((p) => p.id === partId)
    if (top < 0) return
    this.session.transact(() => {
      while (this.snap.measures.length < measureIndex + clip.measures)
        this.insertMeasureRaw(this.snap.measures.length)
      const targets = this.snap.measures
        .slice(measureIndex, measureIndex + clip.measures)
        .map((m) => m.id)
      const targetParts = parts.slice(top, top + clip.parts).map((p) => p.id)
      for (const mid of targets) {
        for (const n of this.session.model.notesIn(mid))
          if (targetParts.includes(n.part)) this.notes.delete(n.id)
      }
      for (const item of clip.notes) {
        const measure = targets[item.measureOffset]
        const part = targetParts[item.partOffset]
        if (!measure || !part) continue
        this.write(newId('n'), { ...item.note, measure, part })
      }
    })
  }
}

/** MuseScore's duration digits: 1 = 64th ... 5 = quarter, 6 = half, 7 = whole, 8 = breve. */
export const DIGIT_DURATIONS: Record<string, Frac> = {
  1: frac(1, 16),
  2: frac(1, 8),
  3: frac(1, 4),
  4: frac(1, 2),
  5: frac(1),
  6: frac(2),
  7: frac(4),
  8: frac(8),
}

/** The duration with one more dot (or back to undotted after two). */
export function toggleDot(base: Frac, dots: number): { dots: number; value: Frac } {
  const d = (dots + 1) % 2
  return { dots: d, value: d === 1 ? frac(base.n * 3, base.d * 2) : base }
}
