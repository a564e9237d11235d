// The search page (`/search`, from the library): the search panel on its own; a result
// opens its score at the match.
import { useMemo } from 'react'
import { useRoute } from '../lib/router'
import { Button } from '../components/ui'
import { SearchPanel } from '../search/SearchPanel'
import { httpSearch } from '../search/client'
import { focusUrl } from '../search/focus'

export function SearchPage() {
  const navigate = useRoute((s) => s.navigate)
  const client = useMemo(() => httpSearch(), [])
  return (
    <div className="flex h-screen flex-col bg-slate-50">
      <header className="flex items-center gap-3 border-b border-slate-200 bg-white px-4 py-3">
        <Button variant="ghost" onClick={() => navigate('/')} aria-label="Back to the library">
          ← Library
        </Button>
        <h1 className="text-xl font-semibold text-slate-900">Search</h1>
        <span className="text-sm text-slate-500">every score you may read</span>
      </header>
      <main className="mx-auto flex min-h-0 w-full max-w-3xl flex-1 flex-col bg-white shadow-sm">
        <SearchPanel client={client} onOpen={(focus) => navigate(focusUrl(focus))} />
      </main>
    </div>
  )
}
