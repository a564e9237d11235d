// Markers on the score: a speech bubble above each bar with open comments.
import { useEffect, useState, type RefObject } from 'react'
import { staffList } from '../render/mei'
import type { ScoreModel } from '../score/model'
import { staffBox, watchLayout } from '../suggestions/geometry'

export function CommentMarkers({
  container,
  model,
  counts,
  onOpen,
}: {
  container: RefObject<HTMLElement | null>
  model: ScoreModel
  counts: Map<string, number>
  onOpen: (measure: string) => void
}) {
  const [marks, setMarks] = useState<{ measure: string; x: number; y: number; n: number }[]>([])
  useEffect(() => {
    const root = container.current
    if (!root || counts.size === 0) {
      setMarks([])
      return
    }
    const draw = () => {
      const origin = root.getBoundingClientRect()
      const first = staffList(model.snapshot.parts)[0]
      const out: { measure: string; x: number; y: number; n: number }[] = []
      if (first)
        for (const [measure, n] of counts) {
          const box = staffBox(root, `${measure}.s${first.n}`, origin)
          if (box) out.push({ measure, x: box.right - 22, y: box.top - 26, n })
        }
      setMarks((prev) => (JSON.stringify(prev) === JSON.stringify(out) ? prev : out))
    }
    return watchLayout(root, draw)
  }, [container, model, counts])
  return (
    <>
      {marks.map((m) => (
        <button
          key={m.measure}
          type="button"
          data-testid="comment-marker"
          data-measure={m.measure}
          className="absolute z-10 rounded-full bg-amber-400 px-1.5 text-xs font-semibold text-amber-950 shadow hover:bg-amber-300"
          style={{ left: m.x, top: m.y }}
          aria-label={`${m.n} comment(s) on this bar`}
          onClick={(e) => {
            e.stopPropagation()
            onOpen(m.measure)
          }}
        >
          <svg viewBox="0 0 16 16" className="mr-0.5 inline h-3 w-3 align-[-1px]" aria-hidden>
            <path
              d="M2 2h12v9H7l-3 3v-3H2z"
              fill="none"
              stroke="currentColor"
              strokeWidth="1.6"
              strokeLinejoin="round"
            />
          </svg>
          {m.n}
        </button>
      ))}
    </>
  )
}
