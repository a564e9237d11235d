// Playback controls: play from the selection (its stretch) or the cursor, stop, loop,
// per-part mute and solo; the tempo comes from the score's tempo marks.
import { useEffect } from 'react'
import type { ScoreSnapshot } from '../score/model'
import type { Cursor } from '../score/session'
import { parseFraction, toNumber } from '../score/fraction'
import { buildTimeline, secondsAt, selectionSpan } from './schedule'
import { usePlayback } from './store'

interface Props {
  snapshot: ScoreSnapshot
  selection: string[]
  cursor: Cursor | null
}

export function PlaybackBar({ snapshot, selection, cursor }: Props) {
  const { player, playing, loop, muted, soloed, set } = usePlayback()

  // The playhead follows the transport while it plays.
  useEffect(() => {
    if (!playing) return
    let frame = requestAnimationFrame(function follow() {
      if (!player.playing) {
        set({ playing: false })
        return
      }
      set({ seconds: player.seconds })
      frame = requestAnimationFrame(follow)
    })
    return () => cancelAnimationFrame(frame)
  }, [playing, player, set])

  useEffect(() => () => player.stop(), [player])

  const play = async () => {
    const timeline = buildTimeline(snapshot)
    let from = 0
    let to = timeline.total
    const span = selection.length ? selectionSpan(timeline, selection) : null
    if (span) ({ start: from, end: to } = span)
    else if (cursor) {
      const i = snapshot.measures.findIndex((m) => m.id === cursor.measure)
      if (i >= 0) from = secondsAt(timeline, i, toNumber(parseFraction(cursor.onset)))
    }
    if (to - from < 0.05) return
    player.muted = new Set(muted)
    player.soloed = new Set(soloed)
    await player.play(timeline.events, from, to, loop)
    set({ timeline, seconds: from, playing: true })
  }
  const stop = () => {
    player.stop()
    set({ playing: false })
  }
  const flip = (list: string[], id: string) =>
    list.includes(id) ? list.filter((x) => x !== id) : [...list, id]
  const setMuted = (next: string[]) => {
    player.muted = new Set(next)
    set({ muted: next })
  }
  const setSoloed = (next: string[]) => {
    player.soloed = new Set(next)
    set({ soloed: next })
  }

  return (
    <div
      className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-white px-3 py-1 text-xs text-slate-700"
      aria-label="Playback"
      data-testid="playback"
    >
      {playing ? (
        <button type="button" className="playback-button" onClick={stop} aria-label="Stop">
          ■ Stop
        </button>
      ) : (
        <button
          type="button"
          className="playback-button"
          onClick={() => void play()}
          aria-label={selection.length ? 'Play the selection' : 'Play from the cursor'}
          title={selection.length ? 'Play the selection' : 'Play from the cursor'}
        >
          ▶ Play
        </button>
      )}
      <label className="flex items-center gap-1">
        <input type="checkbox" checked={loop} onChange={() => set({ loop: !loop })} />
        Loop
      </label>
      {snapshot.parts.map((p) => (
        <span key={p.id} className="flex items-center gap-0.5">
          <span className="text-slate-600">{p.name || 'Part'}</span>
          <button
            type="button"
            className={`part-toggle ${muted.includes(p.id) ? 'on' : ''}`}
            aria-pressed={muted.includes(p.id)}
            aria-label={`Mute ${p.name || 'part'}`}
            onClick={() => setMuted(flip(muted, p.id))}
          >
            M
          </button>
          <button
            type="button"
            className={`part-toggle ${soloed.includes(p.id) ? 'on' : ''}`}
            aria-pressed={soloed.includes(p.id)}
            aria-label={`Solo ${p.name || 'part'}`}
            onClick={() => setSoloed(flip(soloed, p.id))}
          >
            S
          </button>
        </span>
      ))}
    </div>
  )
}
