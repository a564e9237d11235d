// The rendered score: one row per system in a virtualised list (only systems on or
// near the screen are engraved), each row re-engraved only when its key changes.
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react'
import { Virtuoso, type VirtuosoHandle } from 'react-virtuoso'
import type { ScoreModel } from '../score/model'
import type { Cursor } from '../score/session'
import { layoutSystems, type System } from '../render/layout'
import { cachedOnly, engraved, whenIdle } from '../render/cache'
import { schemaIdOf, staffList, type CellRef } from '../render/mei'
import { perf } from '../lib/perf'

export interface PeerMark {
  clientId: number
  color: string
  name: string
  selection: string[]
}

interface Props {
  model: ScoreModel
  version: number
  width: number
  selection: string[]
  cursor: Cursor | null
  peers: PeerMark[]
  onNote: (id: string, event: { shift: boolean; toggle: boolean }) => void
  onCell: (cell: CellRef) => void
  lastRemote: () => number
}

export function ScoreView({
  model,
  version,
  width,
  selection,
  cursor,
  peers,
  onNote,
  onCell,
  lastRemote,
}: Props) {
  const snapshot = model.snapshot
  const px = Math.max(320, Math.round(width - 16))
  const units = Math.max(16, Math.round(px / 28))
  const systems = useMemo(
    () => layoutSystems(snapshot, units),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [snapshot, version, units],
  )
  const virtuoso = useRef<VirtuosoHandle>(null)
  const cursorSystem = cursor
    ? systems.findIndex((s) =>
        snapshot.measures.slice(s.start, s.end).some((m) => m.id === cursor.measure),
      )
    : -1

  useEffect(() => {
    if (cursorSystem >= 0)
      virtuoso.current?.scrollIntoView({ index: cursorSystem, behavior: 'auto' })
  }, [cursorSystem])

  const css = useMemo(() => {
    const rules: string[] = []
    const sel = (id: string) => `.orpheus-score g[id="${CSS.escape(id)}"]`
    for (const p of peers) {
      for (const id of p.selection)
        rules.push(`${sel(id)} { fill: ${p.color}; stroke: ${p.color}; }`)
    }
    for (const id of selection) rules.push(`${sel(id)} { fill: #1971c2; stroke: #1971c2; }`)
    return rules.join('\n')
  }, [peers, selection])

  const onClick = (e: React.MouseEvent) => {
    const target = e.target as Element
    const hit = target.closest('g.note, g.chord, g.rest, g.mRest')
    const row = target.closest('[data-system]')
    const system = row ? systems[Number(row.getAttribute('data-system'))] : undefined
    const cells = system ? engraved(snapshot, system, px)?.cells : undefined
    if (hit?.id) {
      const id = schemaIdOf(hit.id)
      if (snapshot.notes.has(id)) {
        onNote(id, { shift: e.shiftKey, toggle: e.ctrlKey || e.metaKey })
        return
      }
    }
    // Between the staff lines the click lands on the svg itself: find the staff under it.
    let staff = target.closest('g.staff')
    if (!staff && row) {
      staff =
        [...row.querySelectorAll('g.staff')].find((g) => {
          const r = g.getBoundingClientRect()
          return (
            e.clientX >= r.left &&
            e.clientX <= r.right &&
            e.clientY >= r.top - 8 &&
            e.clientY <= r.bottom + 8
          )
        }) ?? null
    }
    const cell = staff?.id ? cells?.get(staff.id) : undefined
    if (cell) onCell(cell)
  }

  return (
    <div className="orpheus-score relative h-full" onClick={onClick} data-testid="score">
      <style>{css}</style>
      <Virtuoso
        ref={virtuoso}
        data={systems}
        increaseViewportBy={{ top: 200, bottom: 400 }}
        computeItemKey={(_, s) => `${s.start}`}
        itemContent={(_, s) => (
          <SystemRow
            system={s}
            px={px}
            model={model}
            cursor={
              cursor && snapshot.measures.slice(s.start, s.end).some((m) => m.id === cursor.measure)
                ? cursor
                : null
            }
            lastRemote={lastRemote}
          />
        )}
      />
    </div>
  )
}

interface RowProps {
  system: System
  px: number
  model: ScoreModel
  cursor: Cursor | null
  lastRemote: () => number
}

const SystemRow = memo(
  function SystemRow({ system, px, model, cursor, lastRemote }: RowProps) {
    const ref = useRef<HTMLDivElement>(null)
    const shown = useRef(false)
    const [, setTick] = useState(0)
    // A system on screen that changed is engraved at once (a remote edit shows in the same
    // frame); one appearing for the first time waits its turn (one per frame).
    const out =
      cachedOnly(system, px) ?? (shown.current ? engraved(model.snapshot, system, px) : null)
    if (out) shown.current = true
    useEffect(() => {
      if (out) return
      return whenIdle(() => {
        engraved(model.snapshot, system, px)
        setTick((t) => t + 1)
      })
    }, [out, model, system, px])
    const [box, setBox] = useState<{ left: number; top: number; height: number } | null>(null)

    useLayoutEffect(() => {
      const arrived = lastRemote()
      if (arrived > 0) perf.rendered(arrived)
      else perf.first()
    }, [out?.svg, lastRemote])

    useLayoutEffect(() => {
      if (!cursor || !ref.current) {
        setBox(null)
        return
      }
      setBox(cursorBox(ref.current, model, cursor))
    }, [cursor, out?.svg, model])

    if (!out) return <div className="h-40" data-system={system.index} aria-busy="true" />
    return (
      // pb-6: room under the system for the Roman numerals and the cadence marks below them
      <div
        className="relative px-2 pb-6"
        data-system={system.index}
        data-key={system.key}
        ref={ref}
      >
        <div className="system-svg" dangerouslySetInnerHTML={{ __html: out.svg }} />
        {box && (
          <div
            data-testid="cursor"
            className="pointer-events-none absolute w-[6px] rounded bg-sky-500/40 ring-1 ring-sky-600"
            style={{ left: box.left, top: box.top, height: box.height }}
          />
        )}
      </div>
    )
  },
  (a, b) =>
    a.system.key === b.system.key && a.px === b.px && a.cursor === b.cursor && a.model === b.model,
)

function cursorBox(
  row: HTMLElement,
  model: ScoreModel,
  cursor: Cursor,
): { left: number; top: number; height: number } | null {
  const snap = model.snapshot
  const staves = staffList(snap.parts)
  const s = staves.find((x) => x.part.id === cursor.part && x.staffIndex === cursor.staff)
  if (!s) return null
  const staffEl = row.querySelector(`g[id="${CSS.escape(`${cursor.measure}.s${s.n}`)}"]`)
  if (!staffEl) return null
  const base = row.getBoundingClientRect()
  const rect = staffEl.getBoundingClientRect()
  const lines = staffEl.querySelector('path') ?? staffEl
  const lineRect = lines.getBoundingClientRect()
  const notes = model
    .notesIn(cursor.measure, cursor.part)
    .filter((n) => n.voice === cursor.voice && n.staff === cursor.staff)
  const at = notes.find((n) => n.onset === cursor.onset)
  let x = rect.left + 12
  const el = (id: string) => row.querySelector(`g[id="${CSS.escape(id)}"]`)
  if (at && el(at.id)) x = (el(at.id) as Element).getBoundingClientRect().left - 2
  else {
    const [cn, cd] = cursor.onset.split('/').map(Number)
    const onset = (cn ?? 0) / (cd ?? 1)
    const before = notes.filter((n) => {
      const [a, b] = n.onset.split('/').map(Number)
      return (a ?? 0) / (b ?? 1) < onset
    })
    const last = before[before.length - 1]
    if (last && el(last.id)) x = (el(last.id) as Element).getBoundingClientRect().right + 6
  }
  return {
    left: x - base.left,
    top: lineRect.top - base.top - 6,
    height: Math.max(lineRect.height + 12, 24),
  }
}
