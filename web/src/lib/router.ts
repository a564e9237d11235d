// A small router over the History API: `/` the library, `/search`, `/scores/<id>` a score.
import { create } from 'zustand'

interface RouteState {
  path: string
  search: string
  navigate: (to: string, replace?: boolean) => void
}

export const useRoute = create<RouteState>((set) => ({
  path: window.location.pathname,
  search: window.location.search,
  navigate: (to, replace = false) => {
    if (replace) window.history.replaceState(null, '', to)
    else window.history.pushState(null, '', to)
    set({ path: window.location.pathname, search: window.location.search })
  },
}))

window.addEventListener('popstate', () => {
  useRoute.setState({ path: window.location.pathname, search: window.location.search })
})

export type Route =
  { name: 'library' } | { name: 'search' } | { name: 'score'; id: string } | { name: 'missing' }

export function match(path: string): Route {
  if (path === '/' || path === '') return { name: 'library' }
  if (path === '/search' || path === '/search/') return { name: 'search' }
  const m = /^\/scores\/([A-Za-z0-9_-]{1,64})\/?$/.exec(path)
  if (m?.[1]) return { name: 'score', id: m[1] }
  return { name: 'missing' }
}
