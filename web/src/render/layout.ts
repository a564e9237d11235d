// Cut the score into systems (rows of measures) and describe each one by a key that
// changes only when something drawn in it changes. The score page renders each system
// as its own Verovio document, so an edit redraws only the systems it touched.
import { parseFraction } from '../score/fraction'
import type { ScoreSnapshot } from '../score/model'
import type { Note } from '../score/schema'
import { chunkMei, contexts, measureNumbers, type ChunkMei, type Context } from './mei'

export interface System {
  index: number
  start: number // first measure index
  end: number // one past the last
  key: string
}

/** Width of a measure in layout units (about a quarter-note head apart per onset). */
function measureWidth(snapshot: ScoreSnapshot, measureId: string): number {
  const ids = snapshot.byMeasure.get(measureId)
  if (!ids || ids.size === 0) return 4
  const onsets = new Set<string>()
  let lyrics = 0
  for (const id of ids) {
    const n = snapshot.notes.get(id)
    if (!n) continue
    onsets.add(n.onset)
    if (n.lyric) lyrics++
  }
  return 3 + onsets.size * 1.6 + Math.min(lyrics, onsets.size) * 0.6
}

/** Greedy rows of measures filling `width` layout units (the first measure of a row
 * also carries clefs and the key signature). */
export function layoutSystems(snapshot: ScoreSnapshot, width: number): System[] {
  const systems: System[] = []
  const ms = snapshot.measures
  let start = 0
  let used = 6
  for (let i = 0; i < ms.length; i++) {
    const m = ms[i]
    if (!m) continue
    const w = measureWidth(snapshot, m.id) + (m.key || m.time ? 2 : 0)
    if (i > start && used + w > width) {
      systems.push({ index: systems.length, start, end: i, key: '' })
      start = i
      used = 6
    }
    used += w
  }
  if (ms.length > start) systems.push({ index: systems.length, start, end: ms.length, key: '' })
  const ctx = contexts(ms, snapshot.meta.tempo)
  for (const s of systems) s.key = systemKey(snapshot, s, ctx[s.start])
  return systems
}

function systemKey(snapshot: ScoreSnapshot, s: System, ctx: Context | undefined): string {
  const parts = snapshot.measures
    .slice(s.start, s.end)
    .map((m) => `${m.id}:${snapshot.revisions.get(m.id) ?? 0}`)
  const c = ctx ? `${ctx.time}|${ctx.key.fifths}` : ''
  const end = s.end === snapshot.measures.length ? 'E' : ''
  return `${snapshot.globalRevision}/${c}/${s.start}/${end}/${parts.join(',')}`
}

const sortByOnset = (a: Note, b: Note): number => {
  const x = parseFraction(a.onset)
  const y = parseFraction(b.onset)
  return x.n * y.d - y.n * x.d
}

/** The MEI of one system. */
export function systemMei(snapshot: ScoreSnapshot, system: System): ChunkMei {
  const ctx = contexts(snapshot.measures, snapshot.meta.tempo)
  const numbers = measureNumbers(snapshot.measures)
  const partIds = new Set(snapshot.parts.map((p) => p.id))
  return chunkMei({
    parts: snapshot.parts,
    measures: snapshot.measures.slice(system.start, system.end),
    context: ctx[system.start] ?? { time: '4/4', key: { fifths: 0 } },
    firstNumber: numbers[system.start] ?? 1,
    isScoreStart: system.start === 0,
    scoreEnd: system.end === snapshot.measures.length,
    ...(snapshot.meta.tempo ? { metaTempo: snapshot.meta.tempo } : {}),
    notesIn: (measureId) => {
      const ids = snapshot.byMeasure.get(measureId)
      const out: Note[] = []
      if (ids)
        for (const id of ids) {
          const n = snapshot.notes.get(id)
          if (n && partIds.has(n.part)) out.push(n)
        }
      return out.sort(sortByOnset)
    },
  })
}
