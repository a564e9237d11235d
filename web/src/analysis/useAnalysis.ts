// The analysis server-sent events of a score (EventSource reconnects by itself): the
// latest result as it arrives.
import { useEffect, useState } from 'react'

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
        setEvent({ data: JSON.parse(e.data) as unknown, receivedAt: performance.now() })
      } catch {
        /* a torn event: the next one replaces it */
      }
    })
    return () => source.close()
  }, [scoreId, token])
  return { event, live }
}
