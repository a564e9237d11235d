// The key timeline above the score: each measure's local key as a coloured band (a D3
// scale from measures to width, an ordinal scale from keys to colours), modulations
// marked where the key changes.
import { useMemo } from 'react'
import { scaleLinear, scaleOrdinal } from 'd3-scale'
import { schemeTableau10 } from 'd3-scale-chromatic'
import type { AnalysisView } from './result'

export function KeyTimeline({ view, measures }: { view: AnalysisView; measures: number }) {
  const x = useMemo(
    () =>
      scaleLinear()
        .domain([0, Math.max(1, measures)])
        .range([0, 100]),
    [measures],
  )
  const color = useMemo(() => scaleOrdinal<string, string>(schemeTableau10), [])
  return (
    <div
      className="relative h-7 border-b border-slate-200 bg-white text-[11px]"
      data-testid="key-timeline"
      aria-label="Key timeline"
    >
      {view.keys.map((k) => (
        <div
          key={`${k.start}-${k.key}`}
          className="absolute top-1 bottom-1 overflow-hidden rounded-sm px-1 leading-5 whitespace-nowrap text-white"
          style={{
            left: `${x(k.start)}%`,
            width: `${x(k.end) - x(k.start)}%`,
            background: color(k.key),
          }}
          title={`${k.label}: bars ${k.start + 1}–${k.end}`}
          data-testid="key-span"
        >
          {k.label}
        </div>
      ))}
    </div>
  )
}
