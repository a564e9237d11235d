// Render timings the benchmark and the tests read from `window.__orpheusPerf`.
import { renderStats } from '../render/cache'

export const perf = {
  /** systems engraved so far and the time Verovio took */
  render: renderStats,
  /** ms from navigation start to the first engraved system on screen */
  firstSystemMs: null as number | null,
  /** ms from the score page asking for the document to the first system on screen */
  firstRenderMs: null as number | null,
  pageStart: 0,
  first(): void {
    if (this.firstSystemMs !== null) return
    this.firstSystemMs = -1
    requestAnimationFrame(() => {
      this.firstSystemMs = performance.now()
      this.firstRenderMs = performance.now() - this.pageStart
    })
  },
  rendered(_arrived: number): void {
    this.first()
  },
}

declare global {
  interface Window {
    __orpheusPerf?: typeof perf
    __orpheus?: unknown
  }
}
window.__orpheusPerf = perf
