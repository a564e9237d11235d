// The score library: filter, open, upload by drag and drop (with progress and the
// server's message when a file is refused), create an empty score.
import { useCallback, useEffect, useMemo, useState } from 'react'
import { loadToolkit } from '../render/toolkit'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useDropzone } from 'react-dropzone'
import { Virtuoso } from 'react-virtuoso'
import { api, upload, type ScoreRecord } from '../lib/api'
import { useAuth } from '../lib/auth'
import { useRoute } from '../lib/router'
import { newScoreJson, CLEFS } from '../score/schema'
import { Button, ErrorText, Field, Modal, inputClass } from '../components/ui'
import { KEY_NAMES } from '../components/Toolbar'

interface Upload {
  name: string
  progress: number
  error?: string
  done?: boolean
}

export function LibraryPage() {
  const client = useQueryClient()
  const navigate = useRoute((s) => s.navigate)
  const { user, logout } = useAuth()
  const scores = useQuery({
    queryKey: ['scores'],
    queryFn: () => api<{ scores: ScoreRecord[] }>('/api/scores?limit=1000'),
  })
  const [filter, setFilter] = useState('')
  const [uploads, setUploads] = useState<Upload[]>([])
  const [creating, setCreating] = useState(false)
  // Warm the renderer up while the library is shown (the next page is probably a score).
  useEffect(() => {
    const id = window.setTimeout(() => {
      void loadToolkit().catch(() => {})
    }, 1500)
    return () => window.clearTimeout(id)
  }, [])
  const shown = useMemo(() => {
    const f = filter.trim().toLowerCase()
    return (scores.data?.scores ?? []).filter((s) => !f || s.title.toLowerCase().includes(f))
  }, [scores.data, filter])

  const onDrop = useCallback(
    (files: File[]) => {
      for (const file of files) {
        const entry: Upload = { name: file.name, progress: 0 }
        setUploads((u) => [entry, ...u])
        const update = (patch: Partial<Upload>) =>
          setUploads((u) =>
            u.map((x) =>
              x === entry
                ? Object.assign(entry, patch) && { ...entry }
                : x.name === entry.name && x.progress === entry.progress
                  ? x
                  : x,
            ),
          )
        upload<ScoreRecord>('/api/scores', file, (p) => {
          entry.progress = p
          setUploads((u) => [...u])
        })
          .then(() => {
            entry.done = true
            entry.progress = 1
            setUploads((u) => [...u])
            void client.invalidateQueries({ queryKey: ['scores'] })
          })
          .catch((e: Error) => {
            entry.error = e.message
            setUploads((u) => [...u])
          })
        void update
      }
    },
    [client],
  )
  const { getRootProps, getInputProps, isDragActive, open } = useDropzone({
    onDrop,
    noClick: true,
    accept: {
      'application/vnd.recordare.musicxml+xml': ['.musicxml', '.xml'],
      'application/vnd.recordare.musicxml': ['.mxl'],
      'audio/midi': ['.mid', '.midi'],
      'text/plain': ['.abc'],
      'application/json': ['.json'],
    },
  })

  return (
    <div className="min-h-screen bg-slate-50" {...getRootProps()}>
      <input {...getInputProps()} aria-label="Upload score files" data-testid="upload-input" />
      <header className="flex items-center gap-3 border-b border-slate-200 bg-white px-4 py-3">
        <h1 className="text-xl font-semibold text-slate-900">Orpheus</h1>
        <span className="text-sm text-slate-500">Scores</span>
        <Button className="ml-4" onClick={() => navigate('/search')}>
          Search
        </Button>
        <span className="ml-auto text-sm text-slate-600">{user?.display_name}</span>
        <Button
          variant="ghost"
          onClick={() => {
            void api('/api/auth/logout', { method: 'POST' }).catch(() => {})
            logout()
          }}
        >
          Log out
        </Button>
      </header>
      <main className="mx-auto max-w-4xl p-4">
        <div className="flex flex-wrap items-center gap-2">
          <input
            className={`${inputClass} max-w-xs`}
            placeholder="Filter by title"
            value={filter}
            onChange={(e) => setFilter(e.target.value)}
            aria-label="Filter by title"
            type="search"
          />
          <Button variant="primary" onClick={() => setCreating(true)}>
            New score
          </Button>
          <Button onClick={open}>Upload…</Button>
        </div>
        <div
          className={`mt-4 rounded-lg border-2 border-dashed p-4 text-center text-sm ${isDragActive ? 'border-indigo-500 bg-indigo-50 text-indigo-900' : 'border-slate-300 text-slate-500'}`}
        >
          {isDragActive
            ? 'Drop to upload'
            : 'Drop MusicXML, MXL, MIDI, ABC or Orpheus JSON files anywhere on this page to upload them.'}
        </div>
        {uploads.length > 0 && (
          <ul className="mt-3 space-y-2" aria-label="Uploads">
            {uploads.map((u, i) => (
              <li
                key={`${u.name}-${i}`}
                className="rounded border border-slate-200 bg-white p-2 text-sm"
                data-testid="upload"
              >
                <div className="flex justify-between">
                  <span className="font-medium">{u.name}</span>
                  <span
                    className={
                      u.error ? 'text-red-700' : u.done ? 'text-emerald-700' : 'text-slate-600'
                    }
                  >
                    {u.error ? 'Refused' : u.done ? 'Uploaded' : `${Math.round(u.progress * 100)}%`}
                  </span>
                </div>
                <div
                  className="mt-1 h-1.5 overflow-hidden rounded bg-slate-100"
                  role="progressbar"
                  aria-valuenow={Math.round(u.progress * 100)}
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-label={`Upload of ${u.name}`}
                >
                  <div
                    className={`h-full ${u.error ? 'bg-red-500' : 'bg-indigo-500'}`}
                    style={{ width: `${u.progress * 100}%` }}
                  />
                </div>
                {u.error && (
                  <p role="alert" className="mt-1 text-red-800">
                    {u.error}
                  </p>
                )}
              </li>
            ))}
          </ul>
        )}
        <ErrorText error={scores.error} />
        <section
          className="mt-4 h-[60vh] rounded-lg border border-slate-200 bg-white"
          aria-label="Scores"
        >
          {scores.isLoading && <p className="p-4 text-slate-600">Loading…</p>}
          {scores.data && shown.length === 0 && (
            <p className="p-4 text-slate-600">
              {filter
                ? 'No score matches this filter.'
                : 'No scores yet: create one or drop a file.'}
            </p>
          )}
          <Virtuoso
            data={shown}
            itemContent={(_, s) => (
              <a
                href={`/scores/${s.id}`}
                onClick={(e) => {
                  e.preventDefault()
                  navigate(`/scores/${s.id}`)
                }}
                className="flex items-center gap-3 border-b border-slate-100 px-4 py-3 hover:bg-slate-50 focus:bg-indigo-50 focus:outline-none"
                data-testid="score-row"
              >
                <span className="flex-1 truncate font-medium text-slate-900">
                  {s.title || 'Untitled'}
                </span>
                <span className="text-xs text-slate-500">{s.owner ?? ''}</span>
                <span className="text-xs text-slate-500">
                  {new Date(s.updated_at).toLocaleString()}
                </span>
              </a>
            )}
          />
        </section>
      </main>
      {creating && (
        <CreateDialog
          onClose={() => setCreating(false)}
          onCreated={(s) => {
            void client.invalidateQueries({ queryKey: ['scores'] })
            navigate(`/scores/${s.id}`)
          }}
        />
      )}
    </div>
  )
}

const PRESETS: Record<
  string,
  { name: string; clef?: string; staves?: number; program?: number }[]
> = {
  Piano: [{ name: 'Piano', staves: 2, program: 0 }],
  'String quartet': [
    { name: 'Violin I', program: 40 },
    { name: 'Violin II', program: 40 },
    { name: 'Viola', clef: 'alto', program: 41 },
    { name: 'Violoncello', clef: 'bass', program: 42 },
  ],
  'SATB choir': [
    { name: 'Soprano', program: 52 },
    { name: 'Alto', program: 52 },
    { name: 'Tenor', clef: 'treble8vb', program: 52 },
    { name: 'Bass', clef: 'bass', program: 52 },
  ],
  Custom: [],
}

function CreateDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void
  onCreated: (s: ScoreRecord) => void
}) {
  const [title, setTitle] = useState('')
  const [composer, setComposer] = useState('')
  const [preset, setPreset] = useState('Piano')
  const [custom, setCustom] = useState('Flute\nCello:bass')
  const [time, setTime] = useState('4/4')
  const [key, setKey] = useState('0')
  const [measures, setMeasures] = useState('16')
  const [tempo, setTempo] = useState('')
  const create = useMutation({
    mutationFn: () => {
      const parts =
        preset === 'Custom'
          ? custom
              .split('\n')
              .map((l) => l.trim())
              .filter(Boolean)
              .map((l) => {
                const [name, clef] = l.split(':')
                return {
                  name: (name ?? '').slice(0, 200),
                  ...(clef && (CLEFS as readonly string[]).includes(clef.trim())
                    ? { clef: clef.trim() }
                    : {}),
                }
              })
          : (PRESETS[preset] ?? [])
      if (!parts.length) throw new Error('Add at least one part.')
      if (!/^\d{1,2}\/(1|2|4|8|16|32|64)$/.test(time))
        throw new Error('Time signature: N/D, e.g. 3/4 or 6/8.')
      const count = Number(measures)
      if (!Number.isInteger(count) || count < 1 || count > 2000)
        throw new Error('Bars: a whole number from 1 to 2000.')
      const bpm = tempo.trim() ? Number(tempo) : undefined
      if (bpm !== undefined && !(bpm >= 1 && bpm <= 1000))
        throw new Error('Tempo: 1 to 1000 beats per minute.')
      const doc = newScoreJson({
        title: title.trim() || 'Untitled',
        composer: composer.trim(),
        parts,
        measures: count,
        time,
        key: Number(key),
        ...(bpm ? { tempo: bpm } : {}),
      })
      return api<ScoreRecord>('/api/scores', { method: 'POST', json: doc })
    },
    onSuccess: onCreated,
  })
  return (
    <Modal
      open
      onOpenChange={(o) => {
        if (!o) onClose()
      }}
      title="New score"
    >
      <form
        onSubmit={(e) => {
          e.preventDefault()
          create.mutate()
        }}
        className="space-y-3"
      >
        <Field label="Title">
          <input
            className={inputClass}
            value={title}
            onChange={(e) => setTitle(e.target.value)}
            maxLength={200}
            autoFocus
          />
        </Field>
        <Field label="Composer">
          <input
            className={inputClass}
            value={composer}
            onChange={(e) => setComposer(e.target.value)}
            maxLength={200}
          />
        </Field>
        <Field label="Instruments">
          <select className={inputClass} value={preset} onChange={(e) => setPreset(e.target.value)}>
            {Object.keys(PRESETS).map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </Field>
        {preset === 'Custom' && (
          <Field label="Parts, one per line (name, or name:clef)">
            <textarea
              className={inputClass}
              rows={4}
              value={custom}
              onChange={(e) => setCustom(e.target.value)}
            />
          </Field>
        )}
        <div className="grid grid-cols-2 gap-3">
          <Field label="Time signature">
            <input className={inputClass} value={time} onChange={(e) => setTime(e.target.value)} />
          </Field>
          <Field label="Key signature">
            <select className={inputClass} value={key} onChange={(e) => setKey(e.target.value)}>
              {Object.entries(KEY_NAMES)
                .sort((a, b) => Number(a[0]) - Number(b[0]))
                .map(([f, n]) => (
                  <option key={f} value={f}>
                    {n}
                  </option>
                ))}
            </select>
          </Field>
          <Field label="Bars">
            <input
              className={inputClass}
              inputMode="numeric"
              value={measures}
              onChange={(e) => setMeasures(e.target.value)}
            />
          </Field>
          <Field label="Tempo (♩ per minute, optional)">
            <input
              className={inputClass}
              inputMode="decimal"
              value={tempo}
              onChange={(e) => setTempo(e.target.value)}
            />
          </Field>
        </div>
        <ErrorText error={create.error} />
        <div className="flex justify-end gap-2">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" disabled={create.isPending}>
            Create
          </Button>
        </div>
      </form>
    </Modal>
  )
}
