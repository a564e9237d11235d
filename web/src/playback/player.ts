// Playback through Tone.js: one polyphonic synth per part (Tone's own oscillators, no
// samples: nothing is fetched at run time), notes scheduled on the transport in score
// seconds, mute and solo read at each note (so they act while playing), an optional loop.
// Tone is loaded on the first Play (its own chunk), a user gesture that also unlocks audio.
import type { NoteEvent } from './schedule'
import { audible } from './schedule'

type ToneModule = typeof import('tone')
type Synth = InstanceType<ToneModule['PolySynth']>

const WAVES = ['triangle', 'sine', 'square8', 'sawtooth8'] as const

export class Player {
  private tone: ToneModule | null = null
  private synths = new Map<string, Synth>()
  muted = new Set<string>()
  soloed = new Set<string>()

  /** Play `events` from `from` to `to` (seconds), looping that stretch if asked. */
  async play(events: NoteEvent[], from: number, to: number, loop: boolean): Promise<void> {
    const Tone = (this.tone ??= await import('tone'))
    await Tone.start()
    const transport = Tone.getTransport()
    this.stop()
    const parts = [...new Set(events.map((e) => e.part))]
    for (const e of events) {
      if (e.time < from - 1e-6 || e.time >= to) continue
      const synth = this.synth(Tone, e.part, parts.indexOf(e.part))
      const frequency = Tone.Frequency(e.midi, 'midi').toFrequency()
      const length = Math.min(e.duration, to - e.time)
      transport.schedule((time) => {
        if (audible(e.part, this.muted, this.soloed))
          synth.triggerAttackRelease(frequency, length, time, 0.5)
      }, e.time)
    }
    transport.loop = loop
    if (loop) {
      transport.loopStart = from
      transport.loopEnd = to
    } else transport.scheduleOnce((time) => transport.stop(time), to + 0.05)
    transport.start(undefined, from)
  }

  stop(): void {
    if (!this.tone) return
    const transport = this.tone.getTransport()
    transport.stop()
    transport.cancel(0)
    for (const s of this.synths.values()) s.releaseAll()
  }

  get playing(): boolean {
    return this.tone?.getTransport().state === 'started'
  }

  /** The transport's position in score seconds. */
  get seconds(): number {
    return this.tone ? this.tone.getTransport().seconds : 0
  }

  private synth(Tone: ToneModule, part: string, index: number): Synth {
    let s = this.synths.get(part)
    if (!s) {
      s = new Tone.PolySynth(Tone.Synth, {
        oscillator: { type: WAVES[index % WAVES.length] ?? 'triangle' },
        envelope: { attack: 0.01, decay: 0.2, sustain: 0.5, release: 0.3 },
      }).toDestination()
      s.volume.value = -10
      this.synths.set(part, s)
    }
    return s
  }
}
