// Sharing (owners): users with a role, and view or edit links.
import { useState } from 'react'
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { api, type Grant, type LinkRecord, type ScoreRecord } from '../lib/api'
import { Button, ErrorText, Field, Modal, inputClass } from './ui'

export function ShareDialog({
  score,
  open,
  onOpenChange,
}: {
  score: ScoreRecord
  open: boolean
  onOpenChange: (o: boolean) => void
}) {
  const client = useQueryClient()
  const base = `/api/scores/${score.id}`
  const access = useQuery({
    queryKey: ['access', score.id],
    queryFn: () => api<{ owner: string; grants: Grant[] }>(`${base}/access`),
  })
  const links = useQuery({
    queryKey: ['links', score.id],
    queryFn: () => api<{ links: LinkRecord[] }>(`${base}/links`),
  })
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ['access', score.id] })
    void client.invalidateQueries({ queryKey: ['links', score.id] })
  }
  const [user, setUser] = useState('')
  const [role, setRole] = useState<'editor' | 'viewer'>('editor')
  const [created, setCreated] = useState<LinkRecord | null>(null)
  const grant = useMutation({
    mutationFn: () =>
      api(`${base}/access/${encodeURIComponent(user.trim())}`, { method: 'PUT', json: { role } }),
    onSuccess: () => {
      setUser('')
      refresh()
    },
  })
  const revoke = useMutation({
    mutationFn: (u: string) => api(`${base}/access/${encodeURIComponent(u)}`, { method: 'DELETE' }),
    onSuccess: refresh,
  })
  const makeLink = useMutation({
    mutationFn: (r: 'editor' | 'viewer') =>
      api<LinkRecord>(`${base}/links`, { method: 'POST', json: { role: r } }),
    onSuccess: (l) => {
      setCreated(l)
      refresh()
    },
  })
  const dropLink = useMutation({
    mutationFn: (id: string) => api(`${base}/links/${id}`, { method: 'DELETE' }),
    onSuccess: refresh,
  })
  const linkUrl = created?.token
    ? `${window.location.origin}/scores/${score.id}?link=${created.token}`
    : null
  return (
    <Modal
      open={open}
      onOpenChange={onOpenChange}
      title={`Share "${score.title}"`}
      description="People you add see the score in their library. Links work without an account."
    >
      <section aria-label="People">
        <h3 className="text-sm font-semibold">People</h3>
        <ul className="mt-2 space-y-1 text-sm">
          <li>
            {access.data?.owner ?? score.owner} <span className="text-slate-500">owner</span>
          </li>
          {access.data?.grants.map((g) => (
            <li key={g.user} className="flex items-center gap-2">
              <span className="flex-1">
                {g.user} <span className="text-slate-500">{g.role}</span>
              </span>
              <Button
                variant="ghost"
                className="!py-0.5 text-xs"
                onClick={() => revoke.mutate(g.user)}
                aria-label={`Remove ${g.user}`}
              >
                Remove
              </Button>
            </li>
          ))}
        </ul>
        <form
          className="mt-3 flex items-end gap-2"
          onSubmit={(e) => {
            e.preventDefault()
            if (user.trim()) grant.mutate()
          }}
        >
          <Field label="User name">
            <input
              className={inputClass}
              value={user}
              onChange={(e) => setUser(e.target.value)}
              aria-label="User name"
            />
          </Field>
          <Field label="Role">
            <select
              className={inputClass}
              value={role}
              onChange={(e) => setRole(e.target.value as 'editor' | 'viewer')}
              aria-label="Role"
            >
              <option value="editor">editor</option>
              <option value="viewer">viewer</option>
            </select>
          </Field>
          <Button type="submit" variant="primary">
            Add
          </Button>
        </form>
        <ErrorText error={grant.error ?? revoke.error} />
      </section>
      <section className="mt-5" aria-label="Links">
        <h3 className="text-sm font-semibold">Links</h3>
        <div className="mt-2 flex gap-2">
          <Button onClick={() => makeLink.mutate('viewer')}>New view link</Button>
          <Button onClick={() => makeLink.mutate('editor')}>New edit link</Button>
        </div>
        {linkUrl && (
          <div className="mt-2 rounded bg-emerald-50 p-2 text-sm">
            <p className="text-emerald-900">
              Copy this {created?.role === 'editor' ? 'edit' : 'view'} link now: it is shown only
              once.
            </p>
            <input
              readOnly
              className={`${inputClass} mt-1 font-mono text-xs`}
              value={linkUrl}
              aria-label="New link"
              onFocus={(e) => e.target.select()}
            />
            <Button
              className="mt-1"
              onClick={() => {
                void navigator.clipboard?.writeText(linkUrl)
              }}
            >
              Copy
            </Button>
          </div>
        )}
        <ul className="mt-2 space-y-1 text-sm">
          {links.data?.links
            .filter((l) => !l.revoked)
            .map((l) => (
              <li key={l.id} className="flex items-center gap-2">
                <span className="flex-1">
                  {l.role === 'editor' ? 'Edit' : 'View'} link ·{' '}
                  {new Date(l.created_at).toLocaleDateString()}
                  {l.created_by ? ` · by ${l.created_by}` : ''}
                </span>
                <Button
                  variant="ghost"
                  className="!py-0.5 text-xs"
                  onClick={() => dropLink.mutate(l.id)}
                >
                  Revoke
                </Button>
              </li>
            ))}
        </ul>
        <ErrorText error={makeLink.error ?? dropLink.error ?? links.error ?? access.error} />
      </section>
    </Modal>
  )
}
