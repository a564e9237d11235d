// Suggestions drawn as tracked changes over the engraved score: each open suggestion's
// notes as ghost note heads in the agent's colour, its cell tinted and outlined.
import { useEffect, useState, type RefObject } from 'react'
import type { ScoreModel } from '../score/model'
import type { Editor } from '../score/edit'
import { parseFraction } from '../score/fraction'
import { clefFor, staffList } from '../render/mei'
import { isOpen, stepsBelowTop, type Suggestion } from './suggestions'
import { onsetX, staffBox, watchLayout, type StaffBox } from './geometry'

interface Ghost {
  key: string
  color: string
  box: StaffBox
  heads: { x: number; y: number; line: boolean }[]
  suggestion: string
  measure: string
  pending: boolean
}

export function GhostLayer({
  container,
  model,
  editor,
  suggestions,
  colorOf,
  onPick,
}: {
  container: RefObject<HTMLElement | null>
  model: ScoreModel
  editor: Editor
  suggestions: Suggestion[]
  colorOf: (agent: string) => string
  onPick: (task: string, measure: string) => void
}) {
  const [ghosts, setGhosts] = useState<Ghost[]>([])
  useEffect(() => {
    const root = container.current
    const open = suggestions.filter(isOpen)
    if (!root || open.length === 0) {
      setGhosts([])
      return
    }
    const draw = () => {
      const origin = root.getBoundingClientRect()
      const snap = model.snapshot
      const staves = staffList(snap.parts)
      const out: Ghost[] = []
      for (const s of open) {
        const part = snap.parts.find((p) => p.id === s.part)
        if (!part) continue
        const bar = editor.barAt(s.measure)
        const barLen = bar.n / bar.d
        const byStaff = new Map<number, Ghost['heads']>()
        const boxes = new Map<number, StaffBox>()
        for (const staff of staves.filter((x) => x.part.id === s.part)) {
          const box = staffBox(root, `${s.measure}.s${staff.n}`, origin)
          if (box) boxes.set(staff.staffIndex, box)
        }
        const existing = snap.notes.size ? model.notesIn(s.measure) : []
        for (const n of s.notes) {
          const box = boxes.get(n.staff) ?? boxes.get(1)
          if (!box) continue
          const on = parseFraction(n.onset)
          const at = existing.find((e) => e.onset === n.onset)
          const el = at ? root.querySelector(`g[id="${CSS.escape(at.id)}"]`) : null
          const known = el ? el.getBoundingClientRect().left - origin.left + 4 : undefined
          const x = onsetX(box, on.n / on.d, barLen, known)
          const space = (box.bottom - box.top) / 4
          for (const p of n.pitches) {
            const steps = stepsBelowTop(p, clefFor(part, n.staff))
            if (steps === null) continue
            const heads = byStaff.get(n.staff) ?? []
            heads.push({ x, y: box.top + (steps * space) / 2, line: steps < -1 || steps > 9 })
            byStaff.set(n.staff, heads)
          }
        }
        for (const [staff, box] of boxes)
          out.push({
            key: `${s.id}.${staff}`,
            color: colorOf(s.agent),
            box,
            heads: byStaff.get(staff) ?? [],
            suggestion: s.id,
            measure: s.measure,
            pending: s.status === 'pending',
          })
      }
      setGhosts((prev) => (JSON.stringify(prev) === JSON.stringify(out) ? prev : out))
    }
    return watchLayout(root, draw)
  }, [container, model, editor, suggestions, colorOf])

  if (ghosts.length === 0) return null
  const task = (id: string) => suggestions.find((s) => s.id === id)?.task ?? ''
  return (
    <div className="pointer-events-none absolute inset-0 overflow-hidden" aria-hidden>
      {ghosts.map((g) => {
        const space = (g.box.bottom - g.box.top) / 4
        return (
          <div key={g.key}>
            <div
              className="pointer-events-auto absolute cursor-pointer rounded-sm border border-dashed"
              data-ghost-cell={g.measure}
              style={{
                left: g.box.left,
                top: g.box.top - space * 2,
                width: g.box.right - g.box.left,
                height: g.box.bottom - g.box.top + space * 4,
                borderColor: g.color,
                backgroundColor: `${g.color}14`,
              }}
              title="Suggested change: click to review"
              onClick={(e) => {
                e.stopPropagation()
                onPick(task(g.suggestion), g.measure)
              }}
            />
            {g.heads.map((h, i) => (
              <span
                key={i}
                data-testid="ghost-note"
                className="absolute rounded-[50%]"
                style={{
                  left: h.x,
                  top: h.y - space / 2,
                  width: space * 1.3,
                  height: space,
                  backgroundColor: g.color,
                  opacity: g.pending ? 0.55 : 0.3,
                  transform: 'rotate(-20deg)',
                }}
              />
            ))}
          </div>
        )
      })}
    </div>
  )
}
