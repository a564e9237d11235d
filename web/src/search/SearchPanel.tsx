// Search in one panel, three modes: a melody (typed note names or the notes of a
// selection; transposition-invariant, rhythm-invariant unless asked), words (titles,
// composers, lyrics, chat, comments) and meaning. A result opens its score at the match.
import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react'
import * as Tabs from '@radix-ui/react-tabs'
import { ApiError } from '../lib/api'
import { Button, inputClass } from '../components/ui'
import type { MelodyHit, SearchClient, SemanticHit, TextHit } from './client'
import { textFocus, type Focus } from './focus'
import { barsLabel, percent, splitList, typedNotes, type Melody } from './melody'

export type SearchMode = 'melody' | 'text' | 'semantic'

type Outcome<T> =
  | { state: 'idle' }
  | { state: 'loading' }
  | { state: 'done'; hits: T[] }
  | { state: 'error'; message: string; unavailable?: boolean }

interface Props {
  client: SearchClient
  /** A melody to search at once (the selection's); a new `id` searches again. */
  seed?: { id: number; melody: Melody } | null
  /** The selection's melody (score page): offers "Use the selection". */
  fromSelection?: () => Melody | null
  /** The score the panel sits in: its own hits are marked. */
  currentScore?: string
  onOpen: (focus: Focus) => void
}

const KIND_LABEL: Record<string, string> = {
  title: 'Title',
  composer: 'Composer',
  lyrics: 'Lyrics',
  chat: 'Chat',
  comment: 'Comment',
  description: 'Description',
  analysis: 'Analysis',
}

function failure(error: unknown, semantic = false): Outcome<never> {
  if (semantic && error instanceof ApiError && error.status === 503)
    return {
      state: 'error',
      unavailable: true,
      message: `Search by meaning is not available here. The server says: ${error.message}`,
    }
  return { state: 'error', message: error instanceof Error ? error.message : String(error) }
}

export function SearchPanel({ client, seed, fromSelection, currentScore, onOpen }: Props) {
  const [mode, setMode] = useState<SearchMode>('melody')
  const [notes, setNotes] = useState('')
  const [durations, setDurations] = useState('')
  const [ignoreRhythm, setIgnoreRhythm] = useState(true)
  const [exact, setExact] = useState(false)
  const [words, setWords] = useState('')
  const [meaning, setMeaning] = useState('')
  const [melody, setMelody] = useState<Outcome<MelodyHit>>({ state: 'idle' })
  const [text, setText] = useState<Outcome<TextHit>>({ state: 'idle' })
  const [semantic, setSemantic] = useState<Outcome<SemanticHit>>({ state: 'idle' })
  const [hint, setHint] = useState<string | null>(null)
  const asked = useRef({ melody: 0, text: 0, semantic: 0 })

  /** Ask the server; only the latest question of a mode shows its answer. */
  const run = useCallback(
    async <T,>(mode: SearchMode, set: (o: Outcome<T>) => void, query: () => Promise<T[]>) => {
      const ask = ++asked.current[mode]
      set({ state: 'loading' })
      try {
        const hits = await query()
        if (ask === asked.current[mode]) set({ state: 'done', hits })
      } catch (e) {
        if (ask === asked.current[mode]) set(failure(e, mode === 'semantic'))
      }
    },
    [],
  )

  const findMelody = useCallback(
    async (noteText: string, durationText: string, rhythmFree: boolean, exactOnly: boolean) => {
      const typed = typedNotes(noteText)
      if (typed.error) {
        setMelody({ state: 'error', message: typed.error })
        return
      }
      const beats = splitList(durationText)
      if (!rhythmFree && beats.length !== typed.notes.length) {
        setMelody({
          state: 'error',
          message: `Give one duration per note (${typed.notes.length}), or ignore the rhythm.`,
        })
        return
      }
      await run('melody', setMelody, () =>
        client.melody({
          notes: typed.notes,
          ...(rhythmFree ? {} : { durations: beats }),
          minSimilarity: exactOnly ? 1 : 0.6,
        }),
      )
    },
    [client, run],
  )

  // A melody handed over (the selection's "Find this melody"): fill the form and search.
  const seeded = useRef<number | null>(null)
  useEffect(() => {
    if (!seed || seeded.current === seed.id) return
    seeded.current = seed.id
    const n = seed.melody.notes.join(' ')
    const d = seed.melody.durations.join(' ')
    setMode('melody')
    setNotes(n)
    setDurations(d)
    setHint(null)
    void findMelody(n, d, ignoreRhythm, exact)
  }, [seed, findMelody, ignoreRhythm, exact])

  const useSelection = () => {
    const m = fromSelection?.() ?? null
    if (!m || m.notes.length === 0) {
      setHint('Select notes of one part in the score first (at least 4).')
      return
    }
    setHint(null)
    setNotes(m.notes.join(' '))
    setDurations(m.durations.join(' '))
  }

  const submitMelody = (e: FormEvent) => {
    e.preventDefault()
    void findMelody(notes, durations, ignoreRhythm, exact)
  }
  const submitText = (e: FormEvent) => {
    e.preventDefault()
    if (words.trim()) void run('text', setText, () => client.text(words))
  }
  const submitMeaning = (e: FormEvent) => {
    e.preventDefault()
    if (meaning.trim()) void run('semantic', setSemantic, () => client.semantic(meaning))
  }

  const tab = (value: SearchMode, label: string) => (
    <Tabs.Trigger
      value={value}
      className="flex-1 border-b-2 border-transparent px-2 py-1.5 text-sm text-slate-600 data-[state=active]:border-indigo-600 data-[state=active]:font-semibold data-[state=active]:text-indigo-800"
    >
      {label}
    </Tabs.Trigger>
  )

  return (
    <Tabs.Root
      value={mode}
      onValueChange={(v) => setMode(v as SearchMode)}
      className="flex h-full flex-col"
      data-testid="search"
    >
      <Tabs.List className="flex border-b border-slate-200 bg-white" aria-label="Search by">
        {tab('melody', 'Melody')}
        {tab('text', 'Words')}
        {tab('semantic', 'Meaning')}
      </Tabs.List>

      <Tabs.Content value="melody" className="min-h-0 flex-1 overflow-y-auto">
        <form className="flex flex-col gap-2 border-b border-slate-200 p-3" onSubmit={submitMelody}>
          <label className="text-xs font-medium text-slate-700" htmlFor="melody-notes">
            Notes (4 to 64, e.g. E4 E4 F4 G4 G4)
          </label>
          <input
            id="melody-notes"
            className={inputClass}
            value={notes}
            onChange={(e) => setNotes(e.target.value)}
            placeholder="E4 E4 F4 G4 G4 F4 E4 D4"
            autoComplete="off"
            spellCheck={false}
          />
          <label className="flex items-center gap-2 text-sm text-slate-700">
            <input
              type="checkbox"
              checked={ignoreRhythm}
              onChange={(e) => setIgnoreRhythm(e.target.checked)}
            />
            Ignore rhythm
          </label>
          {!ignoreRhythm && (
            <>
              <label className="text-xs font-medium text-slate-700" htmlFor="melody-durations">
                Durations in quarter notes, one per note (e.g. 1 1 1/2 1/2 2)
              </label>
              <input
                id="melody-durations"
                className={inputClass}
                value={durations}
                onChange={(e) => setDurations(e.target.value)}
                autoComplete="off"
                spellCheck={false}
              />
            </>
          )}
          <label className="flex items-center gap-2 text-sm text-slate-700">
            <input type="checkbox" checked={exact} onChange={(e) => setExact(e.target.checked)} />
            Exact matches only
          </label>
          <p className="text-xs text-slate-500">Any transposition matches.</p>
          <div className="flex flex-wrap gap-2">
            <Button type="submit" variant="primary">
              Find melody
            </Button>
            {fromSelection && (
              <Button onClick={useSelection} title="Put the selected notes in the box">
                Use the selection
              </Button>
            )}
          </div>
          {hint && <p className="text-xs text-amber-800">{hint}</p>}
        </form>
        <Results
          outcome={melody}
          label="Melody results"
          empty="No score holds this melody."
          render={(hit) => (
            <button
              type="button"
              className="block w-full px-3 py-2 text-left hover:bg-indigo-50 focus:bg-indigo-50 focus:outline-none"
              data-testid="melody-hit"
              onClick={() =>
                onOpen({
                  scoreId: hit.score_id,
                  noteIds: hit.note_ids,
                  measureId: hit.measure_ids[0] ?? null,
                  partId: hit.part_id,
                })
              }
            >
              <span className="flex items-baseline gap-2">
                <span className="min-w-0 flex-1 truncate font-medium text-slate-900">
                  {hit.title}
                </span>
                <span className="text-xs font-semibold text-indigo-700">
                  {percent(hit.similarity)}
                </span>
              </span>
              <span className="block text-xs text-slate-600">
                {hit.part_name || 'Part'}
                {hit.voice > 1 ? ` · voice ${hit.voice}` : ''} · {barsLabel(hit.measure_numbers)}
                {hit.score_id === currentScore && (
                  <span className="ml-1 rounded bg-slate-200 px-1 text-slate-700">this score</span>
                )}
              </span>
            </button>
          )}
        />
      </Tabs.Content>

      <Tabs.Content value="text" className="min-h-0 flex-1 overflow-y-auto">
        <form className="flex flex-col gap-2 border-b border-slate-200 p-3" onSubmit={submitText}>
          <label className="text-xs font-medium text-slate-700" htmlFor="search-words">
            Words in titles, composers, lyrics, chat and comments
          </label>
          <input
            id="search-words"
            type="search"
            className={inputClass}
            value={words}
            onChange={(e) => setWords(e.target.value)}
          />
          <div>
            <Button type="submit" variant="primary">
              Search
            </Button>
          </div>
        </form>
        <Results
          outcome={text}
          label="Text results"
          empty="Nothing holds all these words."
          render={(hit) => (
            <TextResult hit={hit} extra={null} onOpen={onOpen} current={currentScore} />
          )}
        />
      </Tabs.Content>

      <Tabs.Content value="semantic" className="min-h-0 flex-1 overflow-y-auto">
        <form
          className="flex flex-col gap-2 border-b border-slate-200 p-3"
          onSubmit={submitMeaning}
        >
          <label className="text-xs font-medium text-slate-700" htmlFor="search-meaning">
            Describe what you look for (e.g. a sad, slow ending)
          </label>
          <input
            id="search-meaning"
            type="search"
            className={inputClass}
            value={meaning}
            onChange={(e) => setMeaning(e.target.value)}
          />
          <div>
            <Button type="submit" variant="primary">
              Search by meaning
            </Button>
          </div>
        </form>
        <Results
          outcome={semantic}
          label="Results by meaning"
          empty="Nothing close in meaning."
          render={(hit) => (
            <TextResult
              hit={hit}
              extra={percent(Math.max(0, hit.similarity))}
              onOpen={onOpen}
              current={currentScore}
            />
          )}
        />
      </Tabs.Content>
    </Tabs.Root>
  )
}

function Results<T extends { score_id: string }>({
  outcome,
  label,
  empty,
  render,
}: {
  outcome: Outcome<T>
  label: string
  empty: string
  render: (hit: T) => ReactNode
}) {
  if (outcome.state === 'idle') return null
  if (outcome.state === 'loading')
    return (
      <p className="p-3 text-sm text-slate-600" aria-busy="true">
        Searching…
      </p>
    )
  if (outcome.state === 'error')
    return (
      <p
        role="alert"
        className={`m-3 rounded px-3 py-2 text-sm ${outcome.unavailable ? 'bg-amber-50 text-amber-900' : 'bg-red-50 text-red-800'}`}
      >
        {outcome.message}
      </p>
    )
  if (outcome.hits.length === 0)
    return (
      <p className="p-3 text-sm text-slate-600" role="status">
        {empty}
      </p>
    )
  return (
    <>
      <p className="px-3 pt-2 text-xs text-slate-500" role="status">
        {outcome.hits.length} result{outcome.hits.length === 1 ? '' : 's'}
      </p>
      <ul aria-label={label} className="divide-y divide-slate-200">
        {outcome.hits.map((hit, i) => (
          <li key={i}>{render(hit)}</li>
        ))}
      </ul>
    </>
  )
}

function TextResult({
  hit,
  extra,
  onOpen,
  current,
}: {
  hit: TextHit | SemanticHit
  extra: string | null
  onOpen: (focus: Focus) => void
  current: string | undefined
}) {
  return (
    <button
      type="button"
      className="block w-full px-3 py-2 text-left hover:bg-indigo-50 focus:bg-indigo-50 focus:outline-none"
      data-testid="text-hit"
      onClick={() => onOpen(textFocus(hit))}
    >
      <span className="flex items-baseline gap-2">
        <span className="min-w-0 flex-1 truncate font-medium text-slate-900">{hit.title}</span>
        <span className="rounded bg-slate-100 px-1 text-xs text-slate-700">
          {KIND_LABEL[hit.kind] ?? hit.kind}
        </span>
        {extra && <span className="text-xs font-semibold text-indigo-700">{extra}</span>}
      </span>
      <span className="line-clamp-2 block text-xs text-slate-600">{hit.text}</span>
      {hit.score_id === current && <span className="text-xs text-slate-500">this score</span>}
    </button>
  )
}
