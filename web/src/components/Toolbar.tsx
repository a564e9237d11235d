// The editing toolbar: durations, rest, tie, bars, parts, time, key and tempo.
import { useState } from 'react'
import type { Editor, Clipboard } from '../score/edit'
import { DIGIT_DURATIONS, toggleDot } from '../score/edit'
import { eq, frac, formatFraction, type Frac } from '../score/fraction'
import type { Cursor, ScoreSession } from '../score/session'
import { Button, Field, Modal, inputClass } from './ui'
import { contexts } from '../render/mei'
import { CLEFS } from '../score/schema'

const GLYPHS: Record<string, string> = {
  1: '1/64',
  2: '1/32',
  3: '1/16',
  4: '1/8',
  5: '1/4',
  6: '1/2',
  7: '1',
  8: '2',
}
const NAMES: Record<string, string> = {
  1: '64th',
  2: '32nd',
  3: '16th',
  4: 'eighth',
  5: 'quarter',
  6: 'half',
  7: 'whole',
  8: 'breve',
}
export const KEY_NAMES: Record<number, string> = {
  [-7]: 'C♭ major / A♭ minor',
  [-6]: 'G♭ major / E♭ minor',
  [-5]: 'D♭ major / B♭ minor',
  [-4]: 'A♭ major / F minor',
  [-3]: 'E♭ major / C minor',
  [-2]: 'B♭ major / G minor',
  [-1]: 'F major / D minor',
  0: 'C major / A minor',
  1: 'G major / E minor',
  2: 'D major / B minor',
  3: 'A major / F♯ minor',
  4: 'E major / C♯ minor',
  5: 'B major / G♯ minor',
  6: 'F♯ major / D♯ minor',
  7: 'C♯ major / A♯ minor',
}

interface Props {
  editor: Editor
  session: ScoreSession
  cursor: Cursor | null
  selection: string[]
  duration: { base: Frac; dots: number }
  setDuration: (d: { base: Frac; dots: number }) => void
  clip: Clipboard | null
  setClip: (c: Clipboard | null) => void
  flash: (m: string) => void
  setSelection: (s: string[]) => void
}

export function Toolbar({
  editor,
  session,
  cursor,
  selection,
  duration,
  setDuration,
  flash,
  setSelection,
}: Props) {
  const [dialog, setDialog] = useState<'measure' | 'parts' | null>(null)
  const snap = session.model.snapshot
  const measureIndex = cursor ? editor.measureIndex(cursor.measure) : -1
  const value = duration.dots ? frac(duration.base.n * 3, duration.base.d * 2) : duration.base
  const enter = (pitches: string[]) => {
    if (cursor) editor.enter(cursor, pitches, value)
  }
  return (
    <div
      className="flex flex-wrap items-center gap-1 border-b border-slate-200 bg-white px-3 py-1.5"
      role="toolbar"
      aria-label="Editing"
    >
      <div className="flex items-center gap-0.5" role="group" aria-label="Duration">
        {Object.entries(DIGIT_DURATIONS).map(([digit, d]) => (
          <button
            key={digit}
            type="button"
            aria-pressed={eq(d, duration.base)}
            title={`${NAMES[digit]} (${digit})`}
            aria-label={`${NAMES[digit]} (${digit})`}
            onClick={() => {
              setDuration({ base: d, dots: 0 })
              if (selection.length) editor.setDuration(selection, d)
            }}
            className={`h-8 min-w-8 rounded px-1 text-xs font-medium tabular-nums leading-none ${eq(d, duration.base) ? 'bg-indigo-100 text-indigo-900 ring-1 ring-indigo-400' : 'hover:bg-slate-100'}`}
          >
            {GLYPHS[digit]}
          </button>
        ))}
        <button
          type="button"
          aria-pressed={duration.dots > 0}
          title="Dot (.)"
          aria-label="Dot (.)"
          onClick={() => {
            const n = toggleDot(duration.base, duration.dots)
            setDuration({ base: duration.base, dots: n.dots })
            if (selection.length) editor.setDuration(selection, n.value)
          }}
          className={`h-8 w-8 rounded text-lg font-bold ${duration.dots ? 'bg-indigo-100 ring-1 ring-indigo-400' : 'hover:bg-slate-100'}`}
        >
          .
        </button>
      </div>
      <span className="mx-1 h-6 w-px bg-slate-200" />
      <Button variant="ghost" onClick={() => enter([])} disabled={!cursor} title="Rest (0)">
        Rest
      </Button>
      <Button
        variant="ghost"
        onClick={() => editor.toggleTie(selection)}
        disabled={!selection.length}
        title="Tie (T)"
      >
        Tie
      </Button>
      <Button
        variant="ghost"
        onClick={() => {
          editor.remove(selection)
          setSelection([])
        }}
        disabled={!selection.length}
        title="Delete (Del)"
      >
        Delete
      </Button>
      <span className="mx-1 h-6 w-px bg-slate-200" />
      <Button
        variant="ghost"
        onClick={() => editor.insertMeasure(Math.max(0, measureIndex))}
        disabled={measureIndex < 0}
        title="Insert a bar before the cursor (Ins)"
      >
        Insert bar
      </Button>
      <Button
        variant="ghost"
        onClick={() => editor.insertMeasure(snap.measures.length)}
        title="Append a bar (Ctrl+B)"
      >
        Append bar
      </Button>
      <Button
        variant="ghost"
        disabled={measureIndex < 0}
        title="Delete the bar at the cursor (Ctrl+Del)"
        onClick={() => {
          const m = snap.measures[measureIndex]
          if (m) {
            editor.deleteMeasures([m.id])
            flash('Bar deleted')
          }
        }}
      >
        Delete bar
      </Button>
      <Button variant="ghost" onClick={() => setDialog('measure')} disabled={measureIndex < 0}>
        Time, key, tempo…
      </Button>
      <Button variant="ghost" onClick={() => setDialog('parts')}>
        Parts…
      </Button>
      {dialog === 'measure' && measureIndex >= 0 && (
        <MeasureDialog
          editor={editor}
          session={session}
          index={measureIndex}
          onClose={() => setDialog(null)}
        />
      )}
      {dialog === 'parts' && (
        <PartsDialog editor={editor} session={session} onClose={() => setDialog(null)} />
      )}
    </div>
  )
}

function MeasureDialog({
  editor,
  session,
  index,
  onClose,
}: {
  editor: Editor
  session: ScoreSession
  index: number
  onClose: () => void
}) {
  const snap = session.model.snapshot
  const m = snap.measures[index]
  const ctx = contexts(snap.measures, snap.meta.tempo)[index]
  const [time, setTime] = useState(m?.time ?? ctx?.time ?? '4/4')
  const [key, setKey] = useState(String(m?.key?.fifths ?? ctx?.key.fifths ?? 0))
  const [bpm, setBpm] = useState(m?.tempo ? String(m.tempo.bpm) : '')
  const [text, setText] = useState(m?.tempo?.text ?? '')
  const [barline, setBarline] = useState(m?.barline ?? 'regular')
  const [repeat, setRepeat] = useState(m?.repeat ?? '')
  const [error, setError] = useState<string | null>(null)
  if (!m) return null
  const save = () => {
    if (!/^\d{1,2}\/(1|2|4|8|16|32|64)$/.test(time) || Number(time.split('/')[0]) < 1) {
      setError('Time signature: N/D with N from 1 to 99 and D one of 1, 2, 4, 8, 16, 32, 64')
      return
    }
    const tempo = bpm.trim() === '' ? null : Number(bpm)
    if (tempo !== null && !(tempo >= 1 && tempo <= 1000)) {
      setError('Tempo: a number of beats per minute from 1 to 1000')
      return
    }
    session.transact(() => {
      const prevTime = index > 0 ? contexts(snap.measures)[index - 1]?.time : '4/4'
      editor.setMeasureAttribute(m.id, 'time', time === prevTime && index > 0 ? null : time)
      const prevKey = index > 0 ? contexts(snap.measures)[index - 1]?.key.fifths : 0
      editor.setMeasureAttribute(
        m.id,
        'key',
        Number(key) === prevKey && !m.key
          ? null
          : { fifths: Number(key), ...(m.key?.mode ? { mode: m.key.mode } : {}) },
      )
      editor.setMeasureAttribute(
        m.id,
        'tempo',
        tempo === null
          ? null
          : { bpm: tempo, ...(text.trim() ? { text: text.trim().slice(0, 200) } : {}) },
      )
      editor.setMeasureAttribute(m.id, 'barline', barline === 'regular' ? null : barline)
      editor.setMeasureAttribute(m.id, 'repeat', repeat === '' ? null : repeat)
    })
    onClose()
  }
  return (
    <Modal
      open
      onOpenChange={(o) => {
        if (!o) onClose()
      }}
      title={`Bar ${index + 1}`}
      description="Attributes apply from this bar on, until the next change."
    >
      <div className="grid grid-cols-2 gap-3">
        <Field label="Time signature">
          <input
            className={inputClass}
            value={time}
            onChange={(e) => setTime(e.target.value)}
            aria-label="Time signature"
          />
        </Field>
        <Field label="Key signature">
          <select
            className={inputClass}
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-label="Key signature"
          >
            {Object.entries(KEY_NAMES)
              .sort((a, b) => Number(a[0]) - Number(b[0]))
              .map(([f, name]) => (
                <option key={f} value={f}>
                  {name}
                </option>
              ))}
          </select>
        </Field>
        <Field label="Tempo (♩ per minute)">
          <input
            className={inputClass}
            inputMode="decimal"
            value={bpm}
            onChange={(e) => setBpm(e.target.value)}
            placeholder="none"
            aria-label="Tempo"
          />
        </Field>
        <Field label="Tempo text">
          <input
            className={inputClass}
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder="Allegro"
            aria-label="Tempo text"
          />
        </Field>
        <Field label="Barline at the end">
          <select
            className={inputClass}
            value={barline}
            onChange={(e) => setBarline(e.target.value)}
          >
            {['regular', 'double', 'final', 'dashed', 'dotted', 'heavy', 'none'].map((b) => (
              <option key={b}>{b}</option>
            ))}
          </select>
        </Field>
        <Field label="Repeat">
          <select
            className={inputClass}
            value={repeat}
            onChange={(e) => setRepeat(e.target.value as typeof repeat)}
          >
            <option value="">none</option>
            <option value="start">start</option>
            <option value="end">end</option>
            <option value="both">both</option>
          </select>
        </Field>
      </div>
      {error && (
        <p role="alert" className="mt-3 text-sm text-red-700">
          {error}
        </p>
      )}
      <div className="mt-4 flex justify-end gap-2">
        <Button onClick={onClose}>Cancel</Button>
        <Button variant="primary" onClick={save}>
          Apply
        </Button>
      </div>
    </Modal>
  )
}

function PartsDialog({
  editor,
  session,
  onClose,
}: {
  editor: Editor
  session: ScoreSession
  onClose: () => void
}) {
  const [, setTick] = useState(0)
  const [name, setName] = useState('')
  const [clef, setClef] = useState('treble')
  const parts = session.model.snapshot.parts
  const refresh = () => setTick((t) => t + 1)
  return (
    <Modal
      open
      onOpenChange={(o) => {
        if (!o) onClose()
      }}
      title="Parts"
      description="Add, rename or remove parts. Removing a part removes its notes (undo brings them back)."
    >
      <ul className="space-y-2">
        {parts.map((p) => (
          <li key={p.id} className="flex items-center gap-2">
            <input
              className={inputClass}
              defaultValue={p.name}
              aria-label={`Name of ${p.name || 'part'}`}
              onBlur={(e) => {
                if (e.target.value !== p.name) {
                  editor.renamePart(p.id, e.target.value.slice(0, 200))
                  refresh()
                }
              }}
            />
            <Button
              variant="ghost"
              onClick={() => {
                editor.removePart(p.id)
                refresh()
              }}
              aria-label={`Remove ${p.name}`}
            >
              Remove
            </Button>
          </li>
        ))}
      </ul>
      <div className="mt-4 flex items-end gap-2">
        <Field label="New part">
          <input
            className={inputClass}
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="Flute"
          />
        </Field>
        <Field label="Clef">
          <select className={inputClass} value={clef} onChange={(e) => setClef(e.target.value)}>
            {CLEFS.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </Field>
        <Button
          variant="primary"
          onClick={() => {
            editor.addPart(name.trim().slice(0, 200), clef)
            setName('')
            refresh()
          }}
        >
          Add
        </Button>
      </div>
      <div className="mt-4 flex justify-end">
        <Button onClick={onClose}>Done</Button>
      </div>
    </Modal>
  )
}

export { formatFraction }
