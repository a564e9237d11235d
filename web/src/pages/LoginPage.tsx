import { useState } from 'react'
import { api, ApiError, type ScoreRecord } from '../lib/api'
import { useAuth, type User } from '../lib/auth'
import { Button, ErrorText, Field, inputClass } from '../components/ui'

export function LoginPage() {
  const login = useAuth((s) => s.login)
  const expired = useAuth((s) => s.expiredMessage)
  const [username, setUsername] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(null)
    try {
      const r = await api<{ access_token: string; expires_in: number; user: User }>(
        '/api/auth/login',
        { method: 'POST', json: { username, password } },
      )
      login(r.access_token, r.user, r.expires_in)
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? new Error('Wrong user name or password.')
          : err,
      )
    } finally {
      setBusy(false)
    }
  }
  return (
    <div className="flex min-h-screen items-center justify-center bg-slate-100 p-4">
      <form
        onSubmit={submit}
        className="w-full max-w-sm rounded-lg bg-white p-6 shadow"
        aria-label="Log in"
      >
        <h1 className="text-2xl font-semibold text-slate-900">Orpheus</h1>
        <p className="mt-1 text-sm text-slate-600">Log in to open your scores.</p>
        {expired && (
          <p role="status" className="mt-3 rounded bg-amber-50 px-3 py-2 text-sm text-amber-900">
            {expired}
          </p>
        )}
        <div className="mt-4 space-y-3">
          <Field label="User name">
            <input
              className={inputClass}
              autoComplete="username"
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              required
              autoFocus
            />
          </Field>
          <Field label="Password">
            <input
              className={inputClass}
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              required
            />
          </Field>
        </div>
        <ErrorText error={error} />
        <Button
          type="submit"
          variant="primary"
          className="mt-4 w-full justify-center"
          disabled={busy}
        >
          {busy ? 'Logging in…' : 'Log in'}
        </Button>
      </form>
    </div>
  )
}

export type { ScoreRecord }
