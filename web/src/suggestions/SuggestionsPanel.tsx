// Review of agents' suggestions: per task its agent, reason and rule report; accept or
// reject per measure or all, by mouse or keyboard (on a focused bar: Enter or Y accepts,
// Delete or N rejects; Shift with either decides the whole task; ↑↓ move).
import { useEffect, useRef } from 'react'
import { Button } from '../components/ui'
import { reportLines, type TaskReview } from './suggestions'

export function SuggestionsPanel({
  reviews,
  numberOf,
  colorOf,
  readOnly,
  focus,
  onAccept,
  onReject,
}: {
  reviews: TaskReview[]
  numberOf: (measure: string) => number | undefined
  colorOf: (agent: string) => string
  readOnly: boolean
  focus: { task: string; measure: string } | null
  onAccept: (ids: string[]) => void
  onReject: (ids: string[]) => void
}) {
  const list = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (!focus) return
    const row = list.current?.querySelector<HTMLElement>(
      `[data-task="${CSS.escape(focus.task)}"][data-measure="${CSS.escape(focus.measure)}"]`,
    )
    row?.focus()
  }, [focus])

  if (reviews.length === 0)
    return (
      <p className="p-3 text-sm text-slate-600" data-testid="suggestions">
        No suggestions waiting for review.
      </p>
    )

  const onKey = (e: React.KeyboardEvent, ids: string[], all: string[]) => {
    const k = e.key.toLowerCase()
    const rows = [...(list.current?.querySelectorAll<HTMLElement>('[data-measure]') ?? [])]
    const i = rows.indexOf(e.currentTarget as HTMLElement)
    let handled = true
    if (k === 'arrowdown') rows[Math.min(rows.length - 1, i + 1)]?.focus()
    else if (k === 'arrowup') rows[Math.max(0, i - 1)]?.focus()
    else if (readOnly) handled = false
    else if (k === 'enter' || k === 'y') onAccept(e.shiftKey ? all : ids)
    else if (k === 'delete' || k === 'backspace' || k === 'n') onReject(e.shiftKey ? all : ids)
    else handled = false
    if (handled) {
      e.preventDefault()
      e.stopPropagation()
      // keep the keyboard in the list after a decision removes this row
      window.setTimeout(() => {
        const next = list.current?.querySelectorAll<HTMLElement>('[data-measure]')
        if (next && next.length && !list.current?.contains(document.activeElement))
          next[Math.min(i, next.length - 1)]?.focus()
      }, 50)
    }
  }

  return (
    <div ref={list} className="flex flex-col gap-3 p-3" data-testid="suggestions">
      {reviews.map((t) => {
        const all = t.measures.flatMap((m) => m.ids)
        const color = colorOf(t.agent)
        return (
          <section
            key={t.task}
            className="rounded border-l-4 bg-white p-2 shadow-sm"
            style={{ borderColor: color }}
            aria-label={`Suggestions of ${t.agent}`}
          >
            <header className="flex items-center gap-2">
              <span className="font-semibold capitalize" style={{ color }}>
                {t.agent}
              </span>
              <span className="text-xs text-slate-500">{all.length} cell(s)</span>
              {!readOnly && (
                <span className="ml-auto flex gap-1">
                  <Button
                    className="whitespace-nowrap"
                    onClick={() => onAccept(all)}
                    aria-label="Accept all"
                  >
                    Accept all
                  </Button>
                  <Button
                    variant="ghost"
                    className="whitespace-nowrap"
                    onClick={() => onReject(all)}
                    aria-label="Reject all"
                  >
                    Reject all
                  </Button>
                </span>
              )}
            </header>
            {t.reason && <p className="mt-1 text-sm text-slate-700">{t.reason}</p>}
            {reportLines(t.report).length > 0 && (
              <ul
                className="mt-1 flex flex-wrap gap-x-3 text-xs text-slate-500"
                aria-label="Rule report"
              >
                {reportLines(t.report).map((l) => (
                  <li key={l}>{l}</li>
                ))}
              </ul>
            )}
            <ul className="mt-2 flex flex-col gap-1">
              {t.measures.map((m) => (
                <li
                  key={m.measure}
                  tabIndex={0}
                  data-task={t.task}
                  data-measure={m.measure}
                  className="flex items-center gap-2 rounded px-1 py-0.5 text-sm outline-none focus:ring-2 focus:ring-indigo-400"
                  onKeyDown={(e) => onKey(e, m.ids, all)}
                  aria-label={`Bar ${numberOf(m.measure) ?? '?'}`}
                >
                  <span className="flex-1">
                    Bar {numberOf(m.measure) ?? '?'}
                    {!m.pending && <span className="ml-1 text-xs text-slate-500">(writing…)</span>}
                  </span>
                  {!readOnly && m.pending && (
                    <>
                      <Button variant="ghost" onClick={() => onAccept(m.ids)}>
                        Accept
                      </Button>
                      <Button variant="ghost" onClick={() => onReject(m.ids)}>
                        Reject
                      </Button>
                    </>
                  )}
                </li>
              ))}
            </ul>
          </section>
        )
      })}
      {!readOnly && (
        <p className="text-xs text-slate-500">
          On a bar: Enter/Y accept · Del/N reject · with Shift: the whole task · ↑↓ move
        </p>
      )}
    </div>
  )
}
