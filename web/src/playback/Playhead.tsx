// The playhead: a line at the playing position across the system, the sounding notes
// coloured, and the page scrolled to keep it in view.
import { useLayoutEffect, useMemo, useRef, useState } from 'react'
import type { ScoreSnapshot } from '../score/model'
import { onsetAnchors, staffBox, staffCount, xAt } from '../analysis/geometry'
import { positionAt } from './schedule'
import { usePlayback } from './store'

export function Playhead({ snapshot }: { snapshot: ScoreSnapshot }) {
  const layer = useRef<HTMLDivElement>(null)
  const { playing, seconds, timeline } = usePlayback()
  const [line, setLine] = useState<{ x: number; top: number; height: number } | null>(null)

  const sounding = useMemo(() => {
    if (!playing || !timeline) return []
    return timeline.events
      .filter((e) => e.time <= seconds && seconds < e.time + e.duration)
      .map((e) => e.id)
  }, [playing, timeline, seconds])

  useLayoutEffect(() => {
    const el = layer.current
    const root = el?.parentElement
    if (!el || !root || !playing || !timeline) {
      setLine(null)
      return
    }
    const pos = positionAt(timeline, seconds)
    const m = pos ? timeline.measures[pos.measure] : undefined
    if (!pos || !m) return
    const origin = el.getBoundingClientRect()
    const anchors = onsetAnchors(root, snapshot, m.id, m.length, origin)
    const top = staffBox(root, m.id, 1, origin)
    const bottom = staffBox(root, m.id, staffCount(snapshot), origin)
    const scroller = root.querySelector<HTMLElement>('[data-testid=virtuoso-scroller]')
    if (!anchors || !top || !bottom) {
      setLine(null)
      // Not drawn yet: move the page on so the rows ahead are engraved.
      scroller?.scrollBy({ top: scroller.clientHeight * 0.6 })
      return
    }
    setLine({ x: xAt(anchors, pos.onset), top: top.top - 8, height: bottom.bottom - top.top + 16 })
    if (scroller && (bottom.bottom > origin.height || top.top < 0))
      scroller.scrollBy({ top: top.top - 40 })
  }, [playing, seconds, timeline, snapshot])

  const css = sounding
    .map((id) => `.orpheus-score g[id="${CSS.escape(id)}"] { fill: #e8590c; stroke: #e8590c; }`)
    .join('\n')
  return (
    <div ref={layer} className="pointer-events-none absolute inset-0 overflow-hidden">
      <style>{css}</style>
      {line && (
        <div
          className="playhead"
          style={{ left: line.x, top: line.top, height: line.height }}
          data-testid="playhead"
          data-seconds={seconds.toFixed(3)}
          data-x={Math.round(line.x)}
        />
      )}
    </div>
  )
}
