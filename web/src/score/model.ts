// A read model of one score document, kept up to date from Yjs events. It knows which
// measures each change touched (a per-measure revision), so the renderer redraws only
// those systems.
import * as Y from 'yjs'
import {
  readMeasure,
  readNote,
  readPart,
  roots,
  type Measure,
  type Note,
  type Part,
  type RawNote,
  type Roots,
  type Tempo,
} from './schema'

export interface Meta {
  title: string
  composer: string
  schemaVersion: number
  tempo?: Tempo
}

export interface ScoreSnapshot {
  meta: Meta
  parts: Part[]
  measures: Measure[]
  notes: Map<string, Note>
  /** note ids by measure id */
  byMeasure: Map<string, Set<string>>
  /** bumped whenever something drawn in that measure changes */
  revisions: Map<string, number>
  /** bumped when parts or meta change (every system redraws) */
  globalRevision: number
  problems: number
}

export type ChangeListener = (dirty: Set<string> | 'all', remote: boolean) => void

export function emptySnapshot(): ScoreSnapshot {
  return {
    meta: { title: '', composer: '', schemaVersion: 1 },
    parts: [],
    measures: [],
    notes: new Map(),
    byMeasure: new Map(),
    revisions: new Map(),
    globalRevision: 0,
    problems: 0,
  }
}

/** Build a snapshot from plain JSON (a version export: schema_version, meta, parts...). */
export function snapshotFromJson(doc: {
  meta?: unknown
  parts?: unknown
  measures?: unknown
  notes?: unknown
}): ScoreSnapshot {
  const s = emptySnapshot()
  s.meta = readMeta(doc.meta)
  s.parts = dedupe((Array.isArray(doc.parts) ? doc.parts : []).map(readPart))
  s.measures = dedupe((Array.isArray(doc.measures) ? doc.measures : []).map(readMeasure))
  const notes =
    doc.notes && typeof doc.notes === 'object' ? (doc.notes as Record<string, unknown>) : {}
  for (const [id, raw] of Object.entries(notes)) {
    try {
      addNote(s, readNote(id, raw))
    } catch {
      s.problems++
    }
  }
  return s
}

function readMeta(raw: unknown): Meta {
  const r = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {}
  const tempo =
    r.tempo && typeof r.tempo === 'object' && typeof (r.tempo as Tempo).bpm === 'number'
      ? (r.tempo as Tempo)
      : undefined
  return {
    title: typeof r.title === 'string' ? r.title : '',
    composer: typeof r.composer === 'string' ? r.composer : '',
    schemaVersion: typeof r.schema_version === 'number' ? r.schema_version : 1,
    ...(tempo ? { tempo } : {}),
  }
}

function dedupe<T extends { id: string }>(items: (T | null)[]): T[] {
  const seen = new Set<string>()
  const out: T[] = []
  for (const item of items) {
    if (item === null || seen.has(item.id)) continue // first occurrence wins
    seen.add(item.id)
    out.push(item)
  }
  return out
}

function addNote(s: ScoreSnapshot, note: Note): void {
  s.notes.set(note.id, note)
  let set = s.byMeasure.get(note.measure)
  if (!set) s.byMeasure.set(note.measure, (set = new Set()))
  set.add(note.id)
}

function removeNote(s: ScoreSnapshot, id: string): Note | undefined {
  const old = s.notes.get(id)
  if (old) {
    s.notes.delete(id)
    s.byMeasure.get(old.measure)?.delete(id)
  }
  return old
}

export class ScoreModel {
  readonly doc: Y.Doc
  readonly roots: Roots
  snapshot: ScoreSnapshot = emptySnapshot()
  version = 0
  private listeners = new Set<ChangeListener>()
  private measureJson = new Map<string, string>()

  constructor(
    doc: Y.Doc,
    private readonly localOrigin: unknown,
  ) {
    this.doc = doc
    this.roots = roots(doc)
    this.rebuild()
    this.roots.notes.observe(this.onNotes)
    this.roots.measures.observeDeep(this.onMeasures)
    this.roots.parts.observeDeep(this.onGlobal)
    this.roots.meta.observe(this.onGlobal)
  }

  destroy(): void {
    this.roots.notes.unobserve(this.onNotes)
    this.roots.measures.unobserveDeep(this.onMeasures)
    this.roots.parts.unobserveDeep(this.onGlobal)
    this.roots.meta.unobserve(this.onGlobal)
    this.listeners.clear()
  }

  subscribe = (listener: ChangeListener): (() => void) => {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  private emit(dirty: Set<string> | 'all', origin: unknown): void {
    this.version++
    const remote = origin !== this.localOrigin
    for (const l of this.listeners) l(dirty, remote)
  }

  private rebuild(): void {
    const s = emptySnapshot()
    s.globalRevision = this.snapshot.globalRevision + 1
    s.meta = readMeta(this.roots.meta.toJSON())
    s.parts = dedupe(
      this.roots.parts.toArray().map((p) => (p instanceof Y.Map ? readPart(p.toJSON()) : null)),
    )
    s.measures = dedupe(
      this.roots.measures
        .toArray()
        .map((m) => (m instanceof Y.Map ? readMeasure(m.toJSON()) : null)),
    )
    for (const m of s.measures) this.measureJson.set(m.id, JSON.stringify(m))
    for (const [id, raw] of this.roots.notes.entries()) {
      try {
        addNote(s, readNote(id, raw))
      } catch {
        s.problems++
      }
    }
    s.revisions = this.snapshot.revisions
    this.snapshot = s
  }

  private bump(measureId: string): void {
    const r = this.snapshot.revisions
    r.set(measureId, (r.get(measureId) ?? 0) + 1)
  }

  private onNotes = (event: Y.YMapEvent<RawNote>): void => {
    const dirty = new Set<string>()
    const s = this.snapshot
    event.changes.keys.forEach((_change, id) => {
      const old = removeNote(s, id)
      if (old) dirty.add(old.measure)
      const raw = this.roots.notes.get(id)
      if (raw !== undefined) {
        try {
          const note = readNote(id, raw)
          addNote(s, note)
          dirty.add(note.measure)
        } catch {
          s.problems++
        }
      }
    })
    for (const m of dirty) this.bump(m)
    this.emit(dirty, event.transaction.origin)
  }

  private onMeasures = (events: Y.YEvent<Y.AbstractType<unknown>>[], txn: Y.Transaction): void => {
    const s = this.snapshot
    const measures = dedupe(
      this.roots.measures
        .toArray()
        .map((m) => (m instanceof Y.Map ? readMeasure(m.toJSON()) : null)),
    )
    const dirty = new Set<string>()
    for (const m of measures) {
      const json = JSON.stringify(m)
      if (this.measureJson.get(m.id) !== json) {
        this.measureJson.set(m.id, json)
        dirty.add(m.id)
        this.bump(m.id)
      }
    }
    s.measures = measures
    void events
    this.emit(dirty, txn.origin)
  }

  private onGlobal = (_events: unknown, txn: Y.Transaction): void => {
    const s = this.snapshot
    s.meta = readMeta(this.roots.meta.toJSON())
    s.parts = dedupe(
      this.roots.parts.toArray().map((p) => (p instanceof Y.Map ? readPart(p.toJSON()) : null)),
    )
    s.globalRevision++
    this.emit('all', txn.origin)
  }

  /** Notes of one measure (optionally one part), sorted by onset. */
  notesIn(measureId: string, partId?: string): Note[] {
    const ids = this.snapshot.byMeasure.get(measureId)
    if (!ids) return []
    const out: Note[] = []
    for (const id of ids) {
      const n = this.snapshot.notes.get(id)
      if (n && (partId === undefined || n.part === partId)) out.push(n)
    }
    return out
  }
}
