// One agent task's progress (its server-sent events), with cancel while it runs and
// undo once it has finished.
import { useEffect, useState } from 'react'
import { api, tokenFor } from '../lib/api'
import { Button } from '../components/ui'

const FINISHED = new Set(['done', 'failed', 'cancelled', 'undone'])
const EVENTS = ['queued', 'started', 'status', 'text', 'write', 'stale', 'say', 'gate', ...FINISHED]

interface TaskState {
  status: string
  line: string
  writes: number
}

/** A one-line account of an event's data. */
export function eventLine(type: string, data: Record<string, unknown>): string {
  for (const key of ['message', 'summary', 'error', 'text', 'reason'])
    if (typeof data[key] === 'string' && data[key]) return String(data[key]).slice(0, 200)
  if (typeof data.status === 'string') return data.status.replace(/_/g, ' ')
  return type
}

export function TaskCard({
  scoreId,
  task,
  agent,
  color,
  presenceStatus,
  canEdit,
}: {
  scoreId: string
  task: string
  agent: string
  color: string
  presenceStatus: string | null
  canEdit: boolean
}) {
  const [state, setState] = useState<TaskState>({ status: 'queued', line: '', writes: 0 })
  const [error, setError] = useState<string | null>(null)
  const base = `/api/scores/${scoreId}/agents/tasks/${task}`
  useEffect(() => {
    const token = tokenFor(scoreId)
    const source = new EventSource(`${base}/events${token ? `?token=${token}` : ''}`)
    for (const type of EVENTS)
      source.addEventListener(type, (e) => {
        const data = JSON.parse((e as MessageEvent<string>).data) as Record<string, unknown>
        setState((s) => ({
          status: FINISHED.has(type)
            ? type
            : type === 'status' && typeof data.status === 'string'
              ? data.status
              : s.status === 'queued'
                ? 'running'
                : s.status,
          line:
            type === 'text'
              ? (s.line + String(data.text ?? '')).slice(-200)
              : eventLine(type, data),
          writes: s.writes + (type === 'write' ? 1 : 0),
        }))
        if (FINISHED.has(type)) source.close()
      })
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) source.close()
    }
    return () => source.close()
  }, [base, scoreId])

  const finished = FINISHED.has(state.status)
  // The answer is the task record: its status shows at once (the event stream has ended
  // when an undo comes).
  const act = (path: string, method: string) =>
    api<{ status?: string }>(path, { method, scoreId }).then(
      (record) => {
        setError(null)
        if (typeof record?.status === 'string') {
          const status = record.status
          setState((s) => ({ ...s, status, line: status === 'undone' ? 'undone' : s.line }))
        }
      },
      (e: Error) => setError(e.message),
    )
  return (
    <div
      className="rounded border-l-4 bg-white px-2 py-1 text-sm shadow-sm"
      style={{ borderColor: color }}
      data-testid="task"
      data-task={task}
      data-status={state.status}
    >
      <div className="flex items-center gap-2">
        <span className="font-semibold capitalize" style={{ color }}>
          {agent}
        </span>
        <span className="text-xs text-slate-600">
          {presenceStatus && !finished ? presenceStatus.replace(/_/g, ' ') : state.status}
        </span>
        {state.writes > 0 && (
          <span className="text-xs text-slate-500">{state.writes} write(s)</span>
        )}
        {canEdit && (
          <span className="ml-auto flex gap-1">
            {!finished && (
              <Button variant="ghost" onClick={() => void act(base, 'DELETE')}>
                Cancel
              </Button>
            )}
            {state.status === 'done' && (
              <Button variant="ghost" onClick={() => void act(`${base}/undo`, 'POST')}>
                Undo
              </Button>
            )}
          </span>
        )}
      </div>
      {state.line && <p className="truncate text-xs text-slate-500">{state.line}</p>}
      {error && (
        <p role="alert" className="text-xs text-red-700">
          {error}
        </p>
      )}
    </div>
  )
}
