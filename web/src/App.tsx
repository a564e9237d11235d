import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { useAuth, linkToken } from './lib/auth'
import { match, useRoute } from './lib/router'
import { LoginPage } from './pages/LoginPage'
import { LibraryPage } from './pages/LibraryPage'
import { ScorePage } from './pages/ScorePage'
import { SearchPage } from './pages/SearchPage'
import { ApiError } from './lib/api'

const client = new QueryClient({
  defaultOptions: {
    queries: {
      retry: (count, error) =>
        !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 2,
      refetchOnWindowFocus: false,
    },
  },
})

export function App() {
  return (
    <QueryClientProvider client={client}>
      <Routes />
    </QueryClientProvider>
  )
}

function Routes() {
  const token = useAuth((s) => s.token)
  const path = useRoute((s) => s.path)
  const search = useRoute((s) => s.search)
  const route = match(path)
  const viaLink =
    route.name === 'score' &&
    (linkToken(route.id) !== null || new URLSearchParams(search).has('link'))
  if (!token && !viaLink) return <LoginPage />
  if (route.name === 'score') return <ScorePage key={route.id} scoreId={route.id} />
  if (route.name === 'library') return <LibraryPage />
  if (route.name === 'search') return <SearchPage />
  return (
    <div className="p-8">
      <h1 className="text-xl font-semibold">Page not found</h1>
      <a className="text-indigo-700 underline" href="/">
        Back to the library
      </a>
    </div>
  )
}
