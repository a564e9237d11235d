// Versions: list, create a named one, preview one read-only, restore (confirmed), and
// export the current state or a version.
import { useMemo, useState } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Virtuoso } from 'react-virtuoso'
import { api, download, type Role, type ScoreRecord, type VersionRecord } from '../lib/api'
import { snapshotFromJson, type ScoreSnapshot } from '../score/model'
import type { Note } from '../score/schema'
import { Button, Confirm, ErrorText, Modal, inputClass } from './ui'
import { ScoreView } from './ScoreView'

const FORMATS = [
  ['musicxml', 'MusicXML'],
  ['mxl', 'MXL'],
  ['midi', 'MIDI'],
  ['json', 'JSON'],
  ['pdf', 'PDF'],
  ['svg', 'SVG (page 1)'],
] as const

export function ExportButtons({
  path,
  scoreId,
  label,
}: {
  path: string
  scoreId: string
  label: string
}) {
  const [error, setError] = useState<unknown>(null)
  return (
    <div>
      <div className="flex flex-wrap gap-1" role="group" aria-label={label}>
        {FORMATS.map(([fmt, name]) => (
          <Button
            key={fmt}
            variant="ghost"
            className="!px-2 !py-1 text-xs"
            aria-label={`${label}: ${name}`}
            onClick={() => {
              setError(null)
              download(`${path}/export?format=${fmt}`, scoreId).catch(setError)
            }}
          >
            {name}
          </Button>
        ))}
      </div>
      <ErrorText error={error} />
    </div>
  )
}

export function VersionsPanel({
  score,
  role,
  onClose,
}: {
  score: ScoreRecord
  role: Role
  onClose: () => void
}) {
  const client = useQueryClient()
  const versions = useQuery({
    queryKey: ['versions', score.id],
    queryFn: () =>
      api<{ versions: VersionRecord[] }>(`/api/scores/${score.id}/versions`, { scoreId: score.id }),
  })
  const [name, setName] = useState('')
  const create = useMutation({
    mutationFn: () =>
      api<VersionRecord>(`/api/scores/${score.id}/versions`, {
        method: 'POST',
        json: { name: name.trim() },
        scoreId: score.id,
      }),
    onSuccess: () => {
      setName('')
      void client.invalidateQueries({ queryKey: ['versions', score.id] })
    },
  })
  const restore = useMutation({
    mutationFn: (v: VersionRecord) =>
      api<VersionRecord>(`/api/scores/${score.id}/versions/${v.id}/restore`, {
        method: 'POST',
        scoreId: score.id,
      }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ['versions', score.id] })
    },
  })
  const [confirm, setConfirm] = useState<VersionRecord | null>(null)
  const [preview, setPreview] = useState<VersionRecord | null>(null)
  const canEdit = role !== 'viewer'
  return (
    <aside
      className="flex w-80 shrink-0 flex-col border-l border-slate-200 bg-white"
      aria-label="Versions and export"
    >
      <div className="flex items-center justify-between border-b border-slate-200 px-3 py-2">
        <h2 className="font-semibold">Versions</h2>
        <Button variant="ghost" onClick={onClose} aria-label="Close versions">
          ✕
        </Button>
      </div>
      <div className="border-b border-slate-200 p-3">
        <h3 className="mb-1 text-sm font-medium text-slate-700">Export the current state</h3>
        <ExportButtons path={`/api/scores/${score.id}`} scoreId={score.id} label="Export current" />
      </div>
      {canEdit && (
        <form
          className="flex gap-2 border-b border-slate-200 p-3"
          onSubmit={(e) => {
            e.preventDefault()
            create.mutate()
          }}
        >
          <input
            className={inputClass}
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="Name, e.g. Before the bridge"
            aria-label="Version name"
            maxLength={200}
          />
          <Button type="submit" variant="primary" disabled={create.isPending}>
            Save
          </Button>
        </form>
      )}
      <ErrorText error={create.error ?? restore.error ?? versions.error} />
      <div className="min-h-0 flex-1">
        {versions.data && versions.data.versions.length === 0 && (
          <p className="p-3 text-sm text-slate-600">No versions yet.</p>
        )}
        {versions.data && (
          <Virtuoso
            data={versions.data.versions}
            itemContent={(_, v) => (
              <div className="border-b border-slate-100 px-3 py-2" data-testid="version">
                <div className="text-sm font-medium text-slate-900">
                  {v.name || 'Unnamed version'}
                </div>
                <div className="text-xs text-slate-500">
                  {new Date(v.created_at).toLocaleString()}
                  {v.author ? ` · ${v.author}` : ''}
                </div>
                <div className="mt-1 flex flex-wrap gap-1">
                  <Button
                    variant="ghost"
                    className="!px-2 !py-1 text-xs"
                    onClick={() => setPreview(v)}
                  >
                    Preview
                  </Button>
                  {canEdit && (
                    <Button
                      variant="ghost"
                      className="!px-2 !py-1 text-xs"
                      onClick={() => setConfirm(v)}
                    >
                      Restore…
                    </Button>
                  )}
                </div>
                <ExportButtons
                  path={`/api/scores/${score.id}/versions/${v.id}`}
                  scoreId={score.id}
                  label={`Export ${v.name || 'version'}`}
                />
              </div>
            )}
          />
        )}
      </div>
      {confirm && (
        <Confirm
          open
          onOpenChange={(o) => {
            if (!o) setConfirm(null)
          }}
          title="Restore this version?"
          message={`The score goes back to "${confirm.name || 'Unnamed version'}" for everyone editing it. The current state is kept as a version first, so nothing is lost.`}
          confirm="Restore"
          onConfirm={() => restore.mutate(confirm)}
        />
      )}
      {preview && (
        <VersionPreview score={score} version={preview} onClose={() => setPreview(null)} />
      )}
    </aside>
  )
}

function VersionPreview({
  score,
  version,
  onClose,
}: {
  score: ScoreRecord
  version: VersionRecord
  onClose: () => void
}) {
  const data = useQuery({
    queryKey: ['version-json', score.id, version.id],
    queryFn: async () => {
      const blob = await api<Blob | Record<string, unknown>>(
        `/api/scores/${score.id}/versions/${version.id}/export?format=json`,
        { scoreId: score.id },
      )
      const json =
        blob instanceof Blob ? (JSON.parse(await blob.text()) as Record<string, unknown>) : blob
      return snapshotFromJson(json)
    },
  })
  const model = useMemo(() => (data.data ? staticModel(data.data) : null), [data.data])
  return (
    <Modal
      open
      onOpenChange={(o) => {
        if (!o) onClose()
      }}
      title={`Preview: ${version.name || 'Unnamed version'}`}
      description="Read-only. Restore it from the versions list."
      wide
    >
      <ErrorText error={data.error} />
      {!model && !data.error && <p className="text-slate-600">Loading…</p>}
      {model && (
        <div className="h-[65vh]" data-testid="version-preview">
          <ScoreView
            model={model as never}
            version={0}
            width={960}
            selection={[]}
            cursor={null}
            peers={[]}
            onNote={() => {}}
            onCell={() => {}}
            lastRemote={() => 0}
          />
        </div>
      )}
    </Modal>
  )
}

function staticModel(snapshot: ScoreSnapshot) {
  return {
    snapshot,
    notesIn(measureId: string, partId?: string): Note[] {
      return [...(snapshot.byMeasure.get(measureId) ?? [])]
        .map((id) => snapshot.notes.get(id))
        .filter((n): n is Note => n !== undefined && (partId === undefined || n.part === partId))
    },
  }
}
