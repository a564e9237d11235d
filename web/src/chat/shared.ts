// React bindings for the document's chat, comments and suggestions roots.
import { useCallback, useRef, useSyncExternalStore } from 'react'
import type * as Y from 'yjs'
import { useQuery } from '@tanstack/react-query'
import { api } from '../lib/api'
import type { Persona } from './chat'
import type { Json } from '../score/schema'

/** A value read from a shared type, recomputed whenever the type (deeply) changes. */
export function useShared<T>(type: Y.Array<Json> | Y.Map<Json>, read: () => T): T {
  const cache = useRef<{ version: number; value: T } | null>(null)
  const version = useRef(0)
  const subscribe = useCallback(
    (cb: () => void) => {
      const on = () => {
        version.current++
        cb()
      }
      type.observeDeep(on)
      return () => type.unobserveDeep(on)
    },
    [type],
  )
  const get = useSyncExternalStore(subscribe, () => version.current)
  if (!cache.current || cache.current.version !== get)
    cache.current = { version: get, value: read() }
  return cache.current.value
}

/** The agents' personas (`GET /api/agents`). */
export function usePersonas(): Persona[] {
  const q = useQuery({
    queryKey: ['agents'],
    queryFn: () => api<Persona[]>('/api/agents'),
    staleTime: 600_000,
  })
  return q.data ?? []
}
