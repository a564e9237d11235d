// Analysis drawn over the engraved systems: Roman numerals under the lowest staff at
// their beats, cadence marks, voice-leading problems on their notes (a line between the
// two voices of a parallel; clicking it selects its notes). Positions are read from the
// rendered SVG and re-read when the rows change, scroll or resize.
import { useEffect, useLayoutEffect, useRef, useState } from 'react'
import type { ScoreSnapshot } from '../score/model'
import { barLength, parseFraction, toNumber } from '../score/fraction'
import type { AnalysisView } from './result'
import { isPairIssue } from './result'
import { drawnMeasures, noteBox, onsetAnchors, staffBox, staffCount, xAt } from './geometry'
import { useOverlays } from './overlays'
import './overlay.css'

interface Props {
  view: AnalysisView | null
  snapshot: ScoreSnapshot
  version: number
  onSelect: (ids: string[]) => void
}

interface Label {
  key: string
  x: number
  y: number
  text: string
  title: string
  measure: string
  onset: string
}
interface Issue {
  key: string
  label: string
  notes: string[]
  segments: [number, number, number, number][]
  rings: [number, number][]
}
interface Drawn {
  romans: Label[]
  cadences: Label[]
  issues: Issue[]
}

const EMPTY: Drawn = { romans: [], cadences: [], issues: [] }

export function AnalysisOverlay({ view, snapshot, version, onSelect }: Props) {
  const layer = useRef<HTMLDivElement>(null)
  const shown = useOverlays((s) => s.shown)
  const [drawn, setDrawn] = useState<Drawn>(EMPTY)
  const [tick, setTick] = useState(0)

  // Re-measure when rows are engraved, scrolled or resized (once per frame at most).
  useEffect(() => {
    const root = layer.current?.parentElement
    if (!root) return
    let frame = 0
    const again = () => {
      if (!frame)
        frame = requestAnimationFrame(() => {
          frame = 0
          setTick((t) => t + 1)
        })
    }
    const mutations = new MutationObserver(again)
    mutations.observe(root, { childList: true, subtree: true })
    const resize = new ResizeObserver(again)
    resize.observe(root)
    root.addEventListener('scroll', again, true)
    return () => {
      cancelAnimationFrame(frame)
      mutations.disconnect()
      resize.disconnect()
      root.removeEventListener('scroll', again, true)
    }
  }, [])

  useLayoutEffect(() => {
    const el = layer.current
    const root = el?.parentElement
    if (!el || !root || !view) {
      setDrawn(EMPTY)
      return
    }
    setDrawn(measure(root, el.getBoundingClientRect(), view, snapshot))
  }, [view, snapshot, version, tick])

  return (
    <div
      ref={layer}
      className="pointer-events-none absolute inset-0 overflow-hidden"
      data-testid="analysis-overlay"
      data-version={view?.version ?? ''}
    >
      {shown.romans &&
        drawn.romans.map((r) => (
          <span
            key={r.key}
            className="analysis-roman"
            style={{ left: r.x, top: r.y }}
            title={r.title}
            data-testid="roman"
            data-measure={r.measure}
            data-onset={r.onset}
          >
            {r.text}
          </span>
        ))}
      {shown.cadences &&
        drawn.cadences.map((c) => (
          <span
            key={c.key}
            className="analysis-cadence"
            style={{ left: c.x, top: c.y }}
            title={c.title}
            data-testid="cadence"
            data-measure={c.measure}
          >
            {c.text}
          </span>
        ))}
      {shown.voiceLeading && drawn.issues.length > 0 && (
        <svg className="absolute inset-0 h-full w-full" aria-label="Voice-leading problems">
          {drawn.issues.map((i) => (
            <g
              key={i.key}
              className="analysis-issue"
              data-testid="vl-issue"
              data-type={i.label}
              onClick={() => onSelect(i.notes)}
            >
              <title>{`${i.label}: click to select its notes`}</title>
              {i.segments.map(([x1, y1, x2, y2], k) => (
                <g key={k}>
                  <line x1={x1} y1={y1} x2={x2} y2={y2} className="hit" />
                  <line x1={x1} y1={y1} x2={x2} y2={y2} />
                </g>
              ))}
              {i.rings.map(([cx, cy], k) => (
                <circle key={`r${k}`} cx={cx} cy={cy} r={9} />
              ))}
            </g>
          ))}
        </svg>
      )}
    </div>
  )
}

function measure(root: Element, origin: DOMRect, view: AnalysisView, snap: ScoreSnapshot): Drawn {
  const drawnIds = drawnMeasures(root)
  if (drawnIds.size === 0) return EMPTY
  const lowest = staffCount(snap)
  const lengths = new Map<string, number>()
  let time = '4/4'
  for (const m of snap.measures) {
    if (m.time) time = m.time
    lengths.set(m.id, toNumber(barLength(time)))
  }
  const anchors = new Map<string, [number, number][] | null>()
  const anchorsOf = (m: string) => {
    if (!anchors.has(m)) anchors.set(m, onsetAnchors(root, snap, m, lengths.get(m) ?? 4, origin))
    return anchors.get(m) ?? null
  }
  const place = (m: string, onset: string, below: number) => {
    if (!drawnIds.has(m)) return null
    const a = anchorsOf(m)
    const staff = staffBox(root, m, lowest, origin)
    if (!a || !staff) return null
    return { x: xAt(a, toNumber(parseFraction(onset))), y: staff.bottom + below }
  }
  const romans: Label[] = []
  for (const r of view.romans) {
    const at = place(r.measure, r.onset, 10)
    if (at)
      romans.push({
        key: `${r.measure}@${r.onset}`,
        ...at,
        text: r.figure,
        title: `${r.figure} in ${r.key}`,
        measure: r.measure,
        onset: r.onset,
      })
  }
  const cadences: Label[] = []
  for (const c of view.cadences) {
    const at = place(c.measure, c.onset, 30)
    if (at)
      cadences.push({
        key: `${c.measure}@${c.onset}`,
        ...at,
        text: c.short,
        title: `${c.label} (${c.figures.join('–')})`,
        measure: c.measure,
        onset: c.onset,
      })
  }
  const issues: Issue[] = []
  view.issues.forEach((v, k) => {
    const centre = (id: string): [number, number] | null => {
      const b = noteBox(root, id, origin)
      return b ? [(b.left + b.right) / 2, (b.top + b.bottom) / 2] : null
    }
    const points = v.notes.map(centre)
    const segments: Issue['segments'] = []
    const rings: Issue['rings'] = []
    if (isPairIssue(v.type) && v.notes.length === 4) {
      for (const [a, b] of [
        [points[0], points[1]],
        [points[2], points[3]],
      ])
        if (a && b) segments.push([a[0], a[1], b[0], b[1]])
    } else for (const p of points) if (p) rings.push(p)
    if (segments.length || rings.length)
      issues.push({
        key: `${k}:${v.type}:${v.notes.join()}`,
        label: v.label,
        notes: v.notes,
        segments,
        rings,
      })
  })
  return { romans, cadences, issues }
}
