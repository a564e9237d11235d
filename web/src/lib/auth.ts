// Who is logged in: the access token (JWT) and the user, kept in localStorage so a
// reload keeps the session. A share link's token is kept per score instead.
import { create } from 'zustand'

export interface User {
  id: string
  display_name: string
  is_admin: boolean
}

interface AuthState {
  token: string | null
  user: User | null
  expiresAt: number | null
  /** set when the server refused the token: the login page says why */
  expiredMessage: string | null
  login: (token: string, user: User, expiresIn: number) => void
  logout: (message?: string) => void
}

const KEY = 'orpheus.session'

function load(): Pick<AuthState, 'token' | 'user' | 'expiresAt'> {
  try {
    const raw = localStorage.getItem(KEY)
    if (raw) {
      const s = JSON.parse(raw) as { token: string; user: User; expiresAt: number }
      if (s.expiresAt > Date.now()) return s
    }
  } catch {
    /* no storage */
  }
  return { token: null, user: null, expiresAt: null }
}

export const useAuth = create<AuthState>((set) => ({
  ...load(),
  expiredMessage: null,
  login: (token, user, expiresIn) => {
    const expiresAt = Date.now() + expiresIn * 1000
    try {
      localStorage.setItem(KEY, JSON.stringify({ token, user, expiresAt }))
    } catch {
      /* private mode */
    }
    set({ token, user, expiresAt, expiredMessage: null })
  },
  logout: (message) => {
    try {
      localStorage.removeItem(KEY)
    } catch {
      /* private mode */
    }
    set({ token: null, user: null, expiresAt: null, expiredMessage: message ?? null })
  },
}))

/** Share-link tokens by score id (from `/scores/<id>?link=<token>`). */
export function linkToken(scoreId: string): string | null {
  try {
    return sessionStorage.getItem(`orpheus.link.${scoreId}`)
  } catch {
    return null
  }
}

export function rememberLink(scoreId: string, token: string): void {
  try {
    sessionStorage.setItem(`orpheus.link.${scoreId}`, token)
  } catch {
    /* private mode */
  }
}
