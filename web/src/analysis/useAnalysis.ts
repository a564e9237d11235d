// The analysis server-sent events of a score (EventSource reconnects by itself): the
// latest result as it arrives. One GET of the latest result first: the stream only
// announces results, and that GET is what enqueues a job for a score never analysed
// (or analysed before a restart).
import { useEffect, useState } from 'react'
import { api } from '../lib/api'

export interface AnalysisEvent {
  data: unknown
  /** performance.now() when it arrived */
  receivedAt: number
}

export function analysisUrl(scoreId: string, token: string | null): string {
  const base = `/api/scores/${encodeURIComponent(scoreId)}/analysis/events`
  return token ? `${base}?token=${encodeURIComponent(token)}` : base
}

export function useAnalysis(
  scoreId: string,
  token: string | null,
): { event: AnalysisEvent | null; live: boolean } {
  const [event, setEvent] = useState<AnalysisEvent | null>(null)
  const [live, setLive] = useState(false)
  useEffect(() => {
    const source = new EventSource(analysisUrl(scoreId, token))
    source.onopen = () => setLive(true)
    source.onerror = () => setLive(false)
    source.addEventListener('analysis', (e: MessageEvent<string>) => {
      try {
        const data = JSON.parse(e.data) as { duration_ms?: number }
        setEvent({ data, receivedAt: performance.now() })
        // For bench/web/overlay.mjs: when the last result arrived, and its analysis time.
        ;(window as { __orpheusAnalysis?: unknown }).__orpheusAnalysis = {
          at: Date.now(),
          durationMs: data.duration_ms ?? null,
        }
      } catch {
        /* a torn event: the next one replaces it */
      }
    })
    let open = true
    api<{ result?: unknown }>(`/api/scores/${encodeURIComponent(scoreId)}/analysis`, {
      scoreId,
    }).then(
      (body) => {
        if (open && body.result !== undefined)
          setEvent((e) => e ?? { data: body, receivedAt: performance.now() })
      },
      () => undefined,
    )
    return () => {
      open = false
      source.close()
    }
  }, [scoreId, token])
  return { event, live }
}
