// One live score: a Y.Doc synchronised by y-websocket, presence (awareness), the read
// model, and an undo manager that tracks only this user's own transactions.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import type { Awareness } from 'y-protocols/awareness'
import { ScoreModel } from './model'

/** The origin of every local edit: the undo manager tracks this one only, so undo never
 * takes back a collaborator's (or an agent's) change. */
export const LOCAL = { local: true }

export interface PresenceUser {
  id: string
  name: string
  color: string
  kind: 'person' | 'agent'
}
export interface Cursor {
  measure: string
  part: string
  staff: number
  voice: number
  onset: string
}
export interface PresenceState {
  user?: PresenceUser
  selection?: string[]
  cursor?: Cursor | null
}

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected'

const PALETTE = [
  '#d9480f',
  '#1c7ed6',
  '#2b8a3e',
  '#ae3ec9',
  '#e8590c',
  '#0c8599',
  '#c2255c',
  '#5f3dc4',
  '#5c940d',
  '#f08c00',
]

/** A colour per user id, stable across sessions and clients. */
export function colorFor(id: string): string {
  let h = 2166136261
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619)
  return PALETTE[Math.abs(h) % PALETTE.length] ?? '#1c7ed6'
}

export interface SessionEvents {
  status: (status: ConnectionStatus) => void
  synced: () => void
  closed: (code: number, reason: string) => void
  presence: () => void
}

export class ScoreSession {
  readonly doc = new Y.Doc()
  readonly provider: WebsocketProvider
  readonly awareness: Awareness
  readonly model: ScoreModel
  readonly undo: Y.UndoManager
  status: ConnectionStatus = 'connecting'
  synced = false
  private handlers: Partial<SessionEvents> = {}
  /** time each remote update arrived (for the render latency figures) */
  lastRemoteUpdate = 0

  constructor(
    readonly scoreId: string,
    token: string | null,
    user: PresenceUser,
    serverUrl = defaultServer(),
  ) {
    this.model = new ScoreModel(this.doc, LOCAL)
    const r = this.model.roots
    this.undo = new Y.UndoManager([r.notes, r.measures, r.parts, r.meta], {
      trackedOrigins: new Set([LOCAL]),
      captureTimeout: 300,
    })
    this.doc.on('update', (_u: Uint8Array, origin: unknown) => {
      if (origin !== LOCAL) this.lastRemoteUpdate = performance.now()
    })
    this.provider = new WebsocketProvider(serverUrl, scoreId, this.doc, {
      params: token ? { token } : {},
      maxBackoffTime: 4000,
      // No cross-tab channel: after a restore (4409) a stale copy in another tab (or the
      // page's own closing provider) would hand old content to the new document.
      disableBc: true,
    })
    this.awareness = this.provider.awareness
    this.awareness.setLocalState({ user, selection: [], cursor: null } satisfies PresenceState)
    this.provider.on('status', ({ status }) => {
      this.status = status
      this.handlers.status?.(status)
    })
    if (this.provider.wsconnected) this.status = 'connected'
    this.provider.on('sync', (synced: boolean) => {
      if (synced && !this.synced) {
        this.synced = true
        this.handlers.synced?.()
      }
    })
    this.provider.on('closed', ({ code, reason }) => {
      this.handlers.closed?.(code, reason)
    })
    this.awareness.on('change', () => {
      this.handlers.presence?.()
    })
  }

  on<K extends keyof SessionEvents>(name: K, handler: SessionEvents[K]): void {
    this.handlers[name] = handler
  }

  /** Run an edit as one transaction with the local origin (undoable, sent as one update). */
  transact(fn: () => void): void {
    this.doc.transact(fn, LOCAL)
  }

  setPresence(patch: Partial<PresenceState>): void {
    const current = (this.awareness.getLocalState() ?? {}) as PresenceState
    this.awareness.setLocalState({ ...current, ...patch })
  }

  peers(): { clientId: number; state: PresenceState }[] {
    const out: { clientId: number; state: PresenceState }[] = []
    this.awareness.getStates().forEach((state, clientId) => {
      if (clientId !== this.doc.clientID) out.push({ clientId, state: state as PresenceState })
    })
    return out
  }

  private destroyed = false

  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    this.handlers = {}
    this.undo.destroy()
    this.model.destroy()
    this.provider.destroy()
    this.doc.destroy()
  }
}

function defaultServer(): string {
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${proto}//${window.location.host}/ws/scores`
}
