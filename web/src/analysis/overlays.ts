// Which analysis overlays are shown (each can be switched on and off).
import { create } from 'zustand'

export const OVERLAYS = {
  keys: 'Key timeline',
  romans: 'Roman numerals',
  cadences: 'Cadences',
  voiceLeading: 'Voice leading',
  contour: 'Melodic contour',
  density: 'Onset density',
} as const
export type Overlay = keyof typeof OVERLAYS

interface OverlayState {
  shown: Record<Overlay, boolean>
  toggle: (o: Overlay) => void
}

export const useOverlays = create<OverlayState>((set) => ({
  shown: {
    keys: true,
    romans: true,
    cadences: true,
    voiceLeading: true,
    contour: true,
    density: true,
  },
  toggle: (o) => set((s) => ({ shown: { ...s.shown, [o]: !s.shown[o] } })),
}))
