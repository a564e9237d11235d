// Playback state shared by the controls and the playhead.
import { create } from 'zustand'
import { Player } from './player'
import type { Timeline } from './schedule'

interface PlaybackState {
  player: Player
  playing: boolean
  /** score seconds of the playhead */
  seconds: number
  timeline: Timeline | null
  loop: boolean
  muted: string[]
  soloed: string[]
  set: (s: Partial<Omit<PlaybackState, 'player' | 'set'>>) => void
}

export const usePlayback = create<PlaybackState>((set) => ({
  player: new Player(),
  playing: false,
  seconds: 0,
  timeline: null,
  loop: false,
  muted: [],
  soloed: [],
  set: (s) => set(s),
}))
