// REST calls with the session's token. A 401 ends the session (the login page shows
// again and brings the user back where they were); other errors carry the server's
// own message, which the UI shows as is.
import { useAuth, linkToken } from './auth'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string = 'error',
  ) {
    super(message)
  }
}

export function tokenFor(scoreId?: string): string | null {
  return useAuth.getState().token ?? (scoreId ? linkToken(scoreId) : null)
}

async function failure(response: Response): Promise<ApiError> {
  let message = `${response.status} ${response.statusText}`
  let code = 'error'
  try {
    const body = (await response.json()) as { message?: string; error?: string }
    if (body.message) message = body.message
    if (body.error) code = body.error
  } catch {
    /* not JSON */
  }
  if (response.status === 401 && useAuth.getState().token)
    useAuth.getState().logout('Your session has expired: please log in again.')
  return new ApiError(response.status, message, code)
}

export async function api<T>(
  path: string,
  init: RequestInit & { json?: unknown; scoreId?: string } = {},
): Promise<T> {
  const headers = new Headers(init.headers)
  const token = tokenFor(init.scoreId)
  if (token) headers.set('Authorization', `Bearer ${token}`)
  let body = init.body
  if (init.json !== undefined) {
    headers.set('Content-Type', 'application/json')
    body = JSON.stringify(init.json)
  }
  const response = await fetch(path, { ...init, headers, body })
  if (!response.ok) throw await failure(response)
  if (response.status === 204) return undefined as T
  const type = response.headers.get('content-type') ?? ''
  return (type.includes('json') ? await response.json() : await response.blob()) as T
}

/** Download a file the API answers (export), saving it under the server's file name. */
export async function download(path: string, scoreId: string): Promise<void> {
  const headers = new Headers()
  const token = tokenFor(scoreId)
  if (token) headers.set('Authorization', `Bearer ${token}`)
  const response = await fetch(path, { headers })
  if (!response.ok) throw await failure(response)
  const blob = await response.blob()
  const disposition = response.headers.get('content-disposition') ?? ''
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'score'
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10000)
}

/** Upload with progress (fetch cannot report upload progress). */
export function upload<T>(
  path: string,
  file: File,
  onProgress: (fraction: number) => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', path)
    const token = tokenFor()
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total)
    }
    xhr.onload = () => {
      let body: { message?: string; error?: string } = {}
      try {
        body = JSON.parse(xhr.responseText) as typeof body
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as T)
      else {
        if (xhr.status === 401)
          useAuth.getState().logout('Your session has expired: please log in again.')
        reject(
          new ApiError(
            xhr.status,
            body.message ?? `${xhr.status} ${xhr.statusText}`,
            body.error ?? 'error',
          ),
        )
      }
    }
    xhr.onerror = () =>
      reject(new ApiError(0, 'The server cannot be reached. Check your connection and try again.'))
    const form = new FormData()
    form.append('file', file, file.name)
    xhr.send(form)
  })
}

export interface ScoreRecord {
  id: string
  title: string
  owner: string | null
  created_at: string
  updated_at: string
  epoch: number
}
export interface VersionRecord {
  id: string
  name: string
  author: string | null
  created_at: string
  epoch: number
  size: number
}
export interface LinkRecord {
  id: string
  role: 'editor' | 'viewer'
  created_by: string | null
  created_at: string
  revoked: boolean
  token?: string
}
export interface Grant {
  user: string
  role: 'editor' | 'viewer'
  granted_by: string | null
}
export type Role = 'owner' | 'editor' | 'viewer'

/** The caller's role on a score. Owner: from the record; a share link: from /me; else
 * a harmless probe: a rename without a title answers 422 to editors, 403 to viewers. */
export async function roleOn(score: ScoreRecord, userId: string | null): Promise<Role> {
  if (userId === null) {
    const me = await api<{ link?: { role: Role } }>('/api/auth/me', { scoreId: score.id })
    return me.link?.role ?? 'viewer'
  }
  if (score.owner === userId) return 'owner'
  try {
    await api(`/api/scores/${score.id}`, { method: 'PATCH', json: {} })
    return 'editor'
  } catch (e) {
    if (e instanceof ApiError && e.status === 422) return 'editor'
    if (e instanceof ApiError && e.status === 403) return 'viewer'
    throw e
  }
}
