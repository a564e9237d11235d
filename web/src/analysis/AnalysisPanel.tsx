// The analysis side panel: a switch per overlay, a melodic contour per part (its Parsons
// code as a line, D3) and an onset-density heat map (parts x measures, D3 colour scale).
import { useMemo } from 'react'
import { line } from 'd3-shape'
import { scaleLinear, scaleSequential } from 'd3-scale'
import { interpolateYlOrRd } from 'd3-scale-chromatic'
import type { Part } from '../score/schema'
import { contourLevels, type AnalysisView } from './result'
import { OVERLAYS, useOverlays, type Overlay } from './overlays'
import { Button } from '../components/ui'

interface Props {
  view: AnalysisView | null
  parts: Part[]
  live: boolean
  onClose: () => void
}

const WIDTH = 260

export function AnalysisPanel({ view, parts, live, onClose }: Props) {
  const { shown, toggle } = useOverlays()
  const names = new Map(parts.map((p) => [p.id, p.name || 'Part']))
  return (
    <aside
      className="w-72 shrink-0 overflow-y-auto border-l border-slate-200 bg-white p-3 text-sm"
      aria-label="Analysis"
      data-testid="analysis-panel"
    >
      <div className="mb-2 flex items-center">
        <h2 className="flex-1 font-semibold text-slate-900">Analysis</h2>
        <span className={`mr-2 text-xs ${live ? 'text-emerald-700' : 'text-slate-500'}`}>
          {live ? 'live' : 'connecting…'}
        </span>
        <Button variant="ghost" onClick={onClose} aria-label="Close the analysis panel">
          ✕
        </Button>
      </div>
      <fieldset className="mb-3 grid grid-cols-2 gap-1">
        <legend className="sr-only">Overlays</legend>
        {(Object.keys(OVERLAYS) as Overlay[]).map((o) => (
          <label key={o} className="flex items-center gap-1.5 text-xs text-slate-700">
            <input type="checkbox" checked={shown[o]} onChange={() => toggle(o)} />
            {OVERLAYS[o]}
          </label>
        ))}
      </fieldset>
      {!view && <p className="text-slate-600">Waiting for the first analysis…</p>}
      {view && shown.contour && (
        <section className="mb-3" data-testid="contours">
          <h3 className="mb-1 text-xs font-semibold text-slate-700 uppercase">Melodic contour</h3>
          {view.contours.map((c) => (
            <ContourLine
              key={c.part}
              code={c.contour}
              name={names.get(c.part) ?? c.name}
              ambitus={c.ambitus}
            />
          ))}
        </section>
      )}
      {view && shown.density && <DensityMap view={view} names={names} />}
      {view && view.issues.length > 0 && shown.voiceLeading && (
        <p className="text-xs text-slate-600">
          {view.issues.length} voice-leading problem(s): click a red mark on the score to select its
          notes.
        </p>
      )}
    </aside>
  )
}

function ContourLine({ code, name, ambitus }: { code: string; name: string; ambitus: string }) {
  const path = useMemo(() => {
    const levels = contourLevels(code)
    const lo = Math.min(...levels)
    const hi = Math.max(...levels)
    const x = scaleLinear()
      .domain([0, Math.max(1, levels.length - 1)])
      .range([2, WIDTH - 2])
    const y = scaleLinear()
      .domain([lo, hi === lo ? lo + 1 : hi])
      .range([34, 4])
    return line<number>()
      .x((_, i) => x(i))
      .y((d) => y(d))(levels)
  }, [code])
  return (
    <figure className="mb-1">
      <figcaption className="flex text-xs text-slate-600">
        <span className="flex-1">{name}</span>
        <span>{ambitus}</span>
      </figcaption>
      <svg
        width={WIDTH}
        height={38}
        role="img"
        aria-label={`${name} contour`}
        data-testid="contour"
      >
        <path d={path ?? ''} fill="none" stroke="#4263eb" strokeWidth={1.5} />
      </svg>
    </figure>
  )
}

function DensityMap({ view, names }: { view: AnalysisView; names: Map<string, string> }) {
  const { parts, measures } = view.density
  const max = Math.max(0.01, ...measures.flatMap((m) => m.density))
  const color = scaleSequential(interpolateYlOrRd).domain([0, max])
  const cell = WIDTH / Math.max(1, measures.length)
  const row = 14
  return (
    <section className="mb-3" data-testid="density">
      <h3 className="mb-1 text-xs font-semibold text-slate-700 uppercase">
        Onset density (attacks per beat)
      </h3>
      {parts.map((p, r) => (
        <div key={p} className="text-xs text-slate-600">
          {names.get(p) ?? p}
          <svg width={WIDTH} height={row} role="img" aria-label={`${names.get(p) ?? p} density`}>
            {measures.map((m, i) => (
              <rect
                key={m.measure}
                x={i * cell}
                y={0}
                width={Math.max(1, cell - (cell > 3 ? 1 : 0))}
                height={row}
                fill={color(m.density[r] ?? 0)}
              >
                <title>{`bar ${i + 1}: ${m.density[r] ?? 0}`}</title>
              </rect>
            ))}
          </svg>
        </div>
      ))}
    </section>
  )
}
