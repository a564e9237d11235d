// The score page: the live document rendered, keyboard and mouse editing, presence,
// connection state, versions, sharing and export.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react'
import { useQuery } from '@tanstack/react-query'
import { api, roleOn, type Role, type ScoreRecord } from '../lib/api'
import { useAuth, linkToken, rememberLink } from '../lib/auth'
import { useRoute } from '../lib/router'
import { perf } from '../lib/perf'
import {
  colorFor,
  ScoreSession,
  type ConnectionStatus,
  type Cursor,
  type PresenceState,
} from '../score/session'
import { DIGIT_DURATIONS, Editor, toggleDot, type Clipboard } from '../score/edit'
import { cmp, formatFraction, frac, parseFraction, type Frac } from '../score/fraction'
import type { Step } from '../score/pitch'
import { KNOWN_SCHEMA_VERSION } from '../score/schema'
import { loadToolkit } from '../render/toolkit'
import { measureNumbers, type CellRef } from '../render/mei'
import { ScoreView, type PeerMark } from '../components/ScoreView'
import { PresenceBar } from '../components/PresenceBar'
import { Toolbar } from '../components/Toolbar'
import { VersionsPanel } from '../components/VersionsPanel'
import { ShareDialog } from '../components/ShareDialog'
import { Button } from '../components/ui'
import { useAnalysis } from '../analysis/useAnalysis'
import { readAnalysis } from '../analysis/result'
import { useOverlays } from '../analysis/overlays'
import { AnalysisOverlay } from '../analysis/AnalysisOverlay'
import { AnalysisPanel } from '../analysis/AnalysisPanel'
import { KeyTimeline } from '../analysis/KeyTimeline'
import { PlaybackBar } from '../playback/PlaybackBar'
import { Playhead } from '../playback/Playhead'
import { useCollab } from '../chat/Collab'
import { SearchPanel } from '../search/SearchPanel'
import { httpSearch } from '../search/client'
import { focusUrl, readFocus, type Focus } from '../search/focus'
import { commentPlace } from '../comments/comments'
import { MIN_NOTES, selectionMelody, type Melody } from '../search/melody'

const DURATION_NAMES: Record<string, string> = {
  '1/16': '64th',
  '1/8': '32nd',
  '1/4': '16th',
  '1/2': 'eighth',
  1: 'quarter',
  2: 'half',
  4: 'whole',
  8: 'breve',
}

export function ScorePage({ scoreId }: { scoreId: string }) {
  const { token, user } = useAuth()
  const search = useRoute((s) => s.search)
  const navigate = useRoute((s) => s.navigate)
  useEffect(() => {
    const link = new URLSearchParams(search).get('link')
    if (link) {
      rememberLink(scoreId, link)
      navigate(`/scores/${scoreId}`, true)
    }
  }, [search, scoreId, navigate])
  const credential = token ?? linkToken(scoreId)
  const record = useQuery({
    queryKey: ['score', scoreId, credential],
    queryFn: () => api<ScoreRecord>(`/api/scores/${scoreId}`, { scoreId }),
    enabled: credential !== null || token === null,
  })
  const role = useQuery({
    queryKey: ['role', scoreId, user?.id ?? 'link'],
    queryFn: () => roleOn(record.data as ScoreRecord, token ? (user?.id ?? null) : null),
    enabled: record.data !== undefined,
  })
  const [generation, setGeneration] = useState(0)
  const [notice, setNotice] = useState<string | null>(null)
  const reload = useCallback((message: string) => {
    setNotice(message)
    setGeneration((g) => g + 1)
  }, [])

  if (record.error) {
    return (
      <div className="p-8">
        <p role="alert" className="text-red-700">
          {record.error.message}
        </p>
        <Button className="mt-4" onClick={() => navigate('/')}>
          Back to the library
        </Button>
      </div>
    )
  }
  if (!record.data) return <div className="p-8 text-slate-600">Opening the score…</div>
  // The document syncs while the role is being found out; until then the page is read-only.
  return (
    <LiveScore
      key={generation}
      record={record.data}
      role={role.data ?? 'viewer'}
      roleKnown={role.data !== undefined}
      token={credential}
      notice={notice}
      setNotice={setNotice}
      reload={reload}
    />
  )
}

interface LiveProps {
  record: ScoreRecord
  role: Role
  roleKnown: boolean
  token: string | null
  notice: string | null
  setNotice: (n: string | null) => void
  reload: (message: string) => void
}

function useSession(record: ScoreRecord, token: string | null, reload: (m: string) => void) {
  const user = useAuth((s) => s.user)
  const logout = useAuth((s) => s.logout)
  const [session] = useState(() => {
    perf.pageStart = performance.now()
    const id = user?.id ?? 'guest'
    return new ScoreSession(record.id, token, {
      id,
      name: user?.display_name ?? 'Guest',
      color: colorFor(id),
      kind: 'person',
    })
  })
  const [status, setStatus] = useState<ConnectionStatus>('connecting')
  const [synced, setSynced] = useState(false)
  const [closed, setClosed] = useState<string | null>(null)
  const [presenceTick, setPresenceTick] = useState(0)
  // The session lives as long as the component: callbacks are read through refs, so a
  // parent re-render never tears the connection down.
  const callbacks = useRef({ reload, logout })
  callbacks.current = { reload, logout }
  useEffect(() => {
    const { reload, logout } = {
      reload: (m: string) => callbacks.current.reload(m),
      logout: (m: string) => callbacks.current.logout(m),
    }
    session.on('status', setStatus)
    session.on('synced', () => setSynced(true))
    session.on('presence', () => setPresenceTick((t) => t + 1))
    session.on('closed', (code, reason) => {
      if (code === 4409) session.destroy()
      if (code === 4409)
        reload(
          'This score was restored to another version (or reset) while you had it open: it has been reloaded. Edits you made since the restore were not kept.',
        )
      else if (code === 4401) logout('Your session has expired: please log in again.')
      else if (code === 4429) {
        setClosed('Too many changes at once: reconnecting in a moment…')
        window.setTimeout(() => {
          setClosed(null)
          session.provider.connect()
        }, 3000)
      } else if (code === 4403) setClosed('You no longer have access to this score.')
      else if (code === 4404) setClosed('This score no longer exists.')
      else setClosed(`The server closed the connection: ${reason || code}`)
    })
    ;(window as { __orpheus?: unknown }).__orpheus = { session, editor: new Editor(session) }
    // Events that came before these handlers (a fast server) are not lost.
    setStatus(session.status)
    if (session.synced) setSynced(true)
    return () => session.destroy()
  }, [session])
  return { session, status, synced, closed, presenceTick }
}

function LiveScore({ record, role, roleKnown, token, notice, setNotice, reload }: LiveProps) {
  const navigate = useRoute((s) => s.navigate)
  const { session, status, synced, closed, presenceTick } = useSession(record, token, reload)
  const editor = useMemo(() => new Editor(session), [session])
  const version = useSyncExternalStore(
    useCallback((cb: () => void) => session.model.subscribe(() => cb()), [session]),
    () => session.model.version,
  )
  const [ready, setReady] = useState(false)
  const [renderError, setRenderError] = useState<string | null>(null)
  useEffect(() => {
    loadToolkit().then(
      () => setReady(true),
      (e: Error) => setRenderError(e.message),
    )
  }, [])

  const snapshot = session.model.snapshot
  const tooNew = snapshot.meta.schemaVersion > KNOWN_SCHEMA_VERSION
  const readOnly = role === 'viewer' || tooNew || closed !== null

  const [selection, setSelection] = useState<string[]>([])
  const [anchor, setAnchor] = useState<string | null>(null)
  const [cursor, setCursor] = useState<Cursor | null>(null)
  const [duration, setDuration] = useState<{ base: Frac; dots: number }>({ base: frac(1), dots: 0 })
  const [clip, setClip] = useState<Clipboard | null>(null)
  const [message, setMessage] = useState<string | null>(null)
  const entering = useRef(false)
  const lastPitch = useRef<string | null>(null)
  const [panel, setPanel] = useState<'versions' | 'analysis' | 'search' | null>(null)
  const [seed, setSeed] = useState<{ id: number; melody: Melody } | null>(null)
  const searchClient = useMemo(() => httpSearch(record.id), [record.id])
  const [share, setShare] = useState(false)

  const analysis = useAnalysis(record.id, token)
  const analysisView = useMemo(
    () =>
      analysis.event
        ? readAnalysis(
            analysis.event.data,
            snapshot.measures.map((m) => m.id),
          )
        : null,
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [analysis.event, version],
  )
  const showKeys = useOverlays((s) => s.shown.keys)

  const value = duration.dots ? frac(duration.base.n * 3, duration.base.d * 2) : duration.base

  // Forget selected notes that a collaborator deleted.
  useEffect(() => {
    setSelection((sel) => {
      const kept = sel.filter((id) => snapshot.notes.has(id))
      return kept.length === sel.length ? sel : kept
    })
  }, [version, snapshot])

  // A first cursor: the first bar of the first part.
  useEffect(() => {
    if (cursor === null && synced && snapshot.measures[0] && snapshot.parts[0]) {
      setCursor({
        measure: snapshot.measures[0].id,
        part: snapshot.parts[0].id,
        staff: 1,
        voice: 1,
        onset: '0',
      })
    }
  }, [synced, version, cursor, snapshot])

  // A search result opened this page (`?select=...&bar=...`): select the matched notes
  // and show their bar once the document is here, then tidy the address.
  // A comment or chat message that matched opens its panel (and a comment its place).
  const [reveal, setReveal] = useState<{ kind: 'comment' | 'chat'; id: string } | null>(null)
  const showFocus = useCallback(
    (asked: Focus) => {
      const snap = session.model.snapshot
      const item = asked.reveal
      if (item?.kind === 'analysis') setPanel('analysis')
      else if (item) setReveal({ ...item })
      const place =
        item?.kind === 'comment'
          ? commentPlace(session.model.roots.comments.get(item.id), snap)
          : null
      const focus = place ? { ...asked, ...place } : asked
      const notes = focus.noteIds.map((id) => snap.notes.get(id)).filter((n) => n !== undefined)
      const first = notes[0]
      if (first) {
        entering.current = false
        setSelection(notes.map((n) => n.id))
        setAnchor(first.id)
        setCursor({
          measure: first.measure,
          part: first.part,
          staff: first.staff,
          voice: first.voice,
          onset: first.onset,
        })
        return
      }
      const part = snap.parts.find((p) => p.id === focus.partId) ?? snap.parts[0]
      if (focus.measureId && part && snap.measures.some((m) => m.id === focus.measureId)) {
        setSelection([])
        setCursor({ measure: focus.measureId, part: part.id, staff: 1, voice: 1, onset: '0' })
      }
    },
    [session],
  )
  const pendingFocus = useRef(readFocus(record.id, useRoute.getState().search))
  useEffect(() => {
    const focus = pendingFocus.current
    if (!synced || focus === null) return
    pendingFocus.current = null
    showFocus(focus)
    navigate(`/scores/${record.id}`, true)
  }, [synced, showFocus, navigate, record.id])

  const findSelection = () => {
    const melody = selectionMelody(snapshot, selection)
    if (!melody || melody.notes.length < MIN_NOTES) {
      flash(`Select at least ${MIN_NOTES} notes of one part to find their melody`)
      return
    }
    setSeed((s) => ({ id: (s?.id ?? 0) + 1, melody }))
    setPanel('search')
  }
  const openFocus = (focus: Focus) => {
    if (focus.scoreId === record.id) showFocus(focus)
    else navigate(focusUrl(focus))
  }

  useEffect(() => {
    session.setPresence({ selection, cursor: readOnly ? null : cursor })
  }, [session, selection, cursor, readOnly])

  const peers: PeerMark[] = useMemo(
    () =>
      session.peers().flatMap(({ clientId, state }) =>
        state.user
          ? [
              {
                clientId,
                color: state.user.color,
                name: state.user.name,
                selection: state.selection ?? [],
              },
            ]
          : [],
      ),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [session, presenceTick],
  )

  const selectNote = useCallback(
    (id: string, how: { shift: boolean; toggle: boolean } = { shift: false, toggle: false }) => {
      const n = session.model.snapshot.notes.get(id)
      if (!n) return
      entering.current = false
      if (how.toggle) {
        setSelection((sel) => (sel.includes(id) ? sel.filter((x) => x !== id) : [...sel, id]))
      } else if (how.shift && anchor) {
        setSelection(rangeBetween(session, anchor, id))
      } else {
        setSelection([id])
        setAnchor(id)
      }
      setCursor({
        measure: n.measure,
        part: n.part,
        staff: n.staff,
        voice: n.voice,
        onset: n.onset,
      })
      if (n.pitches.length) lastPitch.current = n.pitches[n.pitches.length - 1] ?? null
    },
    [session, anchor],
  )

  const onCell = useCallback((cell: CellRef) => {
    entering.current = false
    setSelection([])
    setCursor({ measure: cell.measure, part: cell.part, staff: cell.staff, voice: 1, onset: '0' })
  }, [])

  const flash = (text: string) => {
    setMessage(text)
    window.setTimeout(() => setMessage((m) => (m === text ? null : m)), 3000)
  }

  const onKey = useCallback(
    (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null
      if (target && target.closest('input, textarea, select, [role="dialog"], [role="menu"]'))
        return
      const mod = e.ctrlKey || e.metaKey
      const key = e.key
      const snap = session.model.snapshot
      if (mod && key.toLowerCase() === 'z' && !readOnly) {
        e.preventDefault()
        if (e.shiftKey) session.undo.redo()
        else session.undo.undo()
        return
      }
      if (mod && key.toLowerCase() === 'y' && !readOnly) {
        e.preventDefault()
        session.undo.redo()
        return
      }
      if (key === 'Escape') {
        setSelection([])
        entering.current = false
        return
      }
      if (mod && key.toLowerCase() === 'c') {
        const range = selectedRange(session, selection, cursor)
        if (range) {
          setClip(editor.copy(range.first, range.last, range.parts))
          flash(`Copied ${range.last - range.first + 1} bar(s)`)
        }
        e.preventDefault()
        return
      }
      if (readOnly) return
      const cur = cursor
      if (mod && key.toLowerCase() === 'v' && clip && cur) {
        e.preventDefault()
        editor.paste(clip, editor.measureIndex(cur.measure), cur.part)
        flash(`Pasted ${clip.measures} bar(s)`)
        return
      }
      if (mod && key.toLowerCase() === 'b') {
        e.preventDefault()
        editor.insertMeasure(snap.measures.length)
        return
      }
      if (key === 'Insert' && cur) {
        e.preventDefault()
        editor.insertMeasure(editor.measureIndex(cur.measure))
        return
      }
      if (mod && (key === 'Delete' || key === 'Backspace')) {
        e.preventDefault()
        const range = selectedRange(session, selection, cur)
        if (range)
          editor.deleteMeasures(snap.measures.slice(range.first, range.last + 1).map((m) => m.id))
        setSelection([])
        return
      }
      if (mod || (e.altKey && !key.startsWith('Arrow'))) return
      const letter = /^[a-gA-G]$/.test(key) ? (key.toUpperCase() as Step) : null
      if (letter && e.shiftKey) {
        e.preventDefault()
        const id = selection[selection.length - 1]
        if (id) editor.addChordTone(id, letter)
        return
      }
      if (letter && cur) {
        e.preventDefault()
        let at = cur
        const selected = selection.length === 1 ? snap.notes.get(selection[0] ?? '') : undefined
        if (!entering.current && selected)
          at = {
            measure: selected.measure,
            part: selected.part,
            staff: selected.staff,
            voice: selected.voice,
            onset: selected.onset,
          }
        const pitch = editor.letterPitch(at, letter, lastPitch.current ?? previousPitch(editor, at))
        const { id, next } = editor.enter(at, [pitch], value)
        lastPitch.current = pitch
        entering.current = true
        setSelection([id])
        setAnchor(id)
        setCursor(next)
        return
      }
      if (key === '0' && cur) {
        e.preventDefault()
        const { id, next } = editor.enter(cur, [], value)
        entering.current = true
        setSelection([id])
        setCursor(next)
        return
      }
      if (/^[1-8]$/.test(key)) {
        e.preventDefault()
        const base = DIGIT_DURATIONS[key] ?? frac(1)
        setDuration({ base, dots: 0 })
        if (!entering.current && selection.length) editor.setDuration(selection, base)
        return
      }
      if (key === '.') {
        e.preventDefault()
        const next = toggleDot(duration.base, duration.dots)
        setDuration({ base: duration.base, dots: next.dots })
        if (!entering.current && selection.length) editor.setDuration(selection, next.value)
        return
      }
      if (key === 'Delete' || key === 'Backspace') {
        e.preventDefault()
        if (selection.length) {
          editor.remove(selection)
          setSelection([])
        }
        return
      }
      if (key === '+' || key === 't' || key === 'T') {
        e.preventDefault()
        if (selection.length) editor.toggleTie(selection)
        return
      }
      if (key === 'ArrowUp' || key === 'ArrowDown') {
        e.preventDefault()
        const dir = key === 'ArrowUp' ? 1 : -1
        if (e.shiftKey && e.altKey) {
          if (cur) setCursor(moveStaff(session, cur, -dir))
          return
        }
        if (selection.length) {
          entering.current = false
          editor.transpose(selection, mod ? 'octave' : e.altKey ? 'step' : 'semitone', dir)
          const n = snap.notes.get(selection[selection.length - 1] ?? '')
          if (n) lastPitch.current = n.pitches[n.pitches.length - 1] ?? lastPitch.current
        } else if (cur) setCursor(moveStaff(session, cur, -dir))
        return
      }
      if (key === 'ArrowLeft' || key === 'ArrowRight') {
        e.preventDefault()
        entering.current = false
        const dir = key === 'ArrowRight' ? 1 : -1
        const from = selection.length ? selection[selection.length - 1] : null
        const target = neighbour(session, editor, from ?? null, cur, dir)
        if (target?.note) {
          if (e.shiftKey && anchor) setSelection(rangeBetween(session, anchor, target.note))
          else {
            setSelection([target.note])
            setAnchor(target.note)
          }
        } else if (!e.shiftKey) setSelection([])
        if (target?.cursor) setCursor(target.cursor)
      }
    },
    [session, editor, readOnly, cursor, selection, anchor, clip, duration, value],
  )

  useEffect(() => {
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [onKey])

  const container = useRef<HTMLDivElement>(null)
  const [width, setWidth] = useState(1200)
  useEffect(() => {
    const el = container.current
    if (!el) return
    const observer = new ResizeObserver(() => setWidth(el.clientWidth))
    observer.observe(el)
    setWidth(el.clientWidth)
    return () => observer.disconnect()
  }, [])

  const me = useAuth((s) => s.user)
  const collab = useCollab({
    session,
    editor,
    scoreId: record.id,
    user: { id: me?.id ?? 'guest', name: me?.display_name ?? 'Guest' },
    readOnly,
    cursor,
    selection,
    container,
    presenceTick,
    version,
    reveal,
  })

  const numbers = measureNumbers(snapshot.measures)
  const cursorLabel = cursor
    ? `${snapshot.parts.find((p) => p.id === cursor.part)?.name || 'Part'} · bar ${numbers[editor.measureIndex(cursor.measure)] ?? '?'} · beat ${beatOf(cursor.onset)}${cursor.voice > 1 ? ` · voice ${cursor.voice}` : ''}`
    : 'Click a note or a bar'

  return (
    <div className="flex h-screen flex-col bg-slate-50">
      <header className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-white px-3 py-2">
        <Button variant="ghost" onClick={() => navigate('/')} aria-label="Back to the library">
          ← Library
        </Button>
        <h1
          className="min-w-0 flex-1 truncate text-lg font-semibold text-slate-900"
          title={record.title}
        >
          {snapshot.meta.title || record.title}
          {snapshot.meta.composer && (
            <span className="ml-2 text-sm font-normal text-slate-500">
              {snapshot.meta.composer}
            </span>
          )}
        </h1>
        {roleKnown && (
          <span
            className={`rounded px-2 py-0.5 text-xs font-medium ${role === 'viewer' ? 'bg-amber-100 text-amber-900' : 'bg-slate-100 text-slate-700'}`}
            data-testid="role"
          >
            {role}
          </span>
        )}
        <PresenceBar session={session} tick={presenceTick} />
        <ConnectionDot status={status} />
        {!readOnly && (
          <>
            <Button
              variant="ghost"
              onClick={() => session.undo.undo()}
              aria-label="Undo my last change (Ctrl+Z)"
              title="Undo my last change (Ctrl+Z)"
            >
              ↶
            </Button>
            <Button
              variant="ghost"
              onClick={() => session.undo.redo()}
              aria-label="Redo (Ctrl+Shift+Z)"
              title="Redo (Ctrl+Shift+Z)"
            >
              ↷
            </Button>
          </>
        )}
        <Button
          onClick={() => setPanel(panel === 'analysis' ? null : 'analysis')}
          aria-expanded={panel === 'analysis'}
        >
          Analysis
        </Button>
        {collab.buttons}
        <Button
          onClick={() => setPanel(panel === 'search' ? null : 'search')}
          aria-expanded={panel === 'search'}
        >
          Search
        </Button>
        <Button
          onClick={() => setPanel(panel === 'versions' ? null : 'versions')}
          aria-expanded={panel === 'versions'}
        >
          Versions &amp; export
        </Button>
        {role === 'owner' && <Button onClick={() => setShare(true)}>Share</Button>}
      </header>
      {status !== 'connected' && synced && closed === null && (
        <div
          role="status"
          className="bg-amber-100 px-4 py-2 text-sm text-amber-900"
          data-testid="offline-banner"
        >
          Disconnected from the server: reconnecting… Your edits are kept and will be sent when the
          connection returns.
        </div>
      )}
      {closed && (
        <div role="alert" className="bg-red-100 px-4 py-2 text-sm text-red-900">
          {closed}
        </div>
      )}
      {notice && (
        <div
          role="status"
          className="flex items-center bg-sky-100 px-4 py-2 text-sm text-sky-900"
          data-testid="notice"
        >
          <span className="flex-1">{notice}</span>
          <Button variant="ghost" onClick={() => setNotice(null)}>
            Dismiss
          </Button>
        </div>
      )}
      {role === 'viewer' && roleKnown && (
        <div
          className="bg-slate-100 px-4 py-1.5 text-sm text-slate-700"
          data-testid="readonly-banner"
        >
          View only: you can follow the score live but not change it.
        </div>
      )}
      {tooNew && (
        <div className="bg-slate-100 px-4 py-1.5 text-sm text-slate-700">
          This score was written by a newer version of Orpheus: it opens read-only.
        </div>
      )}
      {!readOnly && (
        <Toolbar
          editor={editor}
          session={session}
          cursor={cursor}
          selection={selection}
          duration={duration}
          setDuration={setDuration}
          clip={clip}
          setClip={setClip}
          flash={flash}
          setSelection={setSelection}
        />
      )}
      <PlaybackBar snapshot={snapshot} selection={selection} cursor={cursor} />
      {showKeys && analysisView && (
        <KeyTimeline view={analysisView} measures={snapshot.measures.length} />
      )}
      <div className="flex min-h-0 flex-1">
        <main className="relative min-w-0 flex-1 bg-white" ref={container} aria-label="Score">
          {renderError && (
            <p role="alert" className="p-4 text-red-700">
              {renderError}
            </p>
          )}
          {(!ready || !synced) && !renderError && (
            <p className="p-6 text-slate-600" aria-busy="true">
              {synced ? 'Loading the renderer…' : 'Loading the score…'}
            </p>
          )}
          {ready && synced && snapshot.measures.length === 0 && (
            <p className="p-6 text-slate-600">
              This score has no bars yet.{!readOnly && ' Press Ctrl+B to add one.'}
            </p>
          )}
          {ready && synced && (
            <ScoreView
              model={session.model}
              version={version}
              width={width}
              selection={selection}
              cursor={readOnly ? null : cursor}
              peers={peers}
              onNote={selectNote}
              onCell={onCell}
              lastRemote={() => session.lastRemoteUpdate}
            />
          )}
          {ready && synced && (
            <>
              <AnalysisOverlay
                view={analysisView}
                snapshot={snapshot}
                version={version}
                onSelect={setSelection}
              />
              <Playhead snapshot={snapshot} />
              {collab.overlay}
            </>
          )}
        </main>
        {collab.panel}
        {panel === 'versions' && (
          <VersionsPanel score={record} role={role} onClose={() => setPanel(null)} />
        )}
        {panel === 'search' && (
          <aside
            className="flex w-80 shrink-0 flex-col border-l border-slate-200 bg-slate-50"
            aria-label="Search"
          >
            <div className="flex items-center border-b border-slate-200 bg-white px-3 py-1.5">
              <h2 className="flex-1 text-sm font-semibold">Search</h2>
              <Button variant="ghost" onClick={() => setPanel(null)} aria-label="Close search">
                ✕
              </Button>
            </div>
            <div className="min-h-0 flex-1">
              <SearchPanel
                client={searchClient}
                seed={seed}
                fromSelection={() => selectionMelody(session.model.snapshot, selection)}
                currentScore={record.id}
                onOpen={openFocus}
              />
            </div>
          </aside>
        )}
        {panel === 'analysis' && (
          <AnalysisPanel
            view={analysisView}
            parts={snapshot.parts}
            live={analysis.live}
            onClose={() => setPanel(null)}
          />
        )}
      </div>
      <footer
        className="flex flex-wrap items-center gap-4 border-t border-slate-200 bg-white px-3 py-1.5 text-xs text-slate-600"
        aria-live="polite"
      >
        <span data-testid="cursor-label">{readOnly ? 'Read-only' : cursorLabel}</span>
        {!readOnly && (
          <span>
            Input: {duration.dots ? 'dotted ' : ''}
            {DURATION_NAMES[formatFraction(duration.base)] ?? formatFraction(duration.base)}
          </span>
        )}
        {selection.length > 0 && <span>{selection.length} selected</span>}
        {selection.length > 0 && (
          <button
            type="button"
            className="rounded px-1.5 py-0.5 text-indigo-700 underline-offset-2 hover:underline focus-visible:ring-2 focus-visible:ring-indigo-500"
            onClick={findSelection}
            title="Search every score for the melody of the selected notes (any key)"
          >
            Find this melody
          </button>
        )}
        {message && <span className="text-indigo-700">{message}</span>}
        {snapshot.problems > 0 && (
          <span className="text-amber-700">{snapshot.problems} unreadable value(s) skipped</span>
        )}
        {!readOnly && (
          <span className="ml-auto hidden md:inline">
            A–G note · Shift+A–G chord tone · 1–8 duration · . dot · 0 rest · ↑↓ pitch (Alt step,
            Ctrl octave) · ←→ move · Del delete · T tie · Ctrl+Z undo
          </span>
        )}
      </footer>
      {share && <ShareDialog score={record} open={share} onOpenChange={setShare} />}
    </div>
  )
}

function ConnectionDot({ status }: { status: ConnectionStatus }) {
  const color =
    status === 'connected'
      ? 'bg-emerald-500'
      : status === 'connecting'
        ? 'bg-amber-400'
        : 'bg-red-500'
  return (
    <span
      className="flex items-center gap-1 text-xs text-slate-600"
      data-testid="connection"
      data-status={status}
    >
      <span className={`h-2 w-2 rounded-full ${color}`} aria-hidden />
      {status}
    </span>
  )
}

function beatOf(onset: string): string {
  const f = parseFraction(onset)
  const beat = f.n / f.d + 1
  return Number.isInteger(beat) ? String(beat) : beat.toFixed(2).replace(/0+$/, '')
}

function previousPitch(editor: Editor, at: Cursor): string | null {
  const before = editor
    .voiceNotes(at)
    .filter((n) => n.pitches.length && cmp(parseFraction(n.onset), parseFraction(at.onset)) < 0)
  const last = before[before.length - 1]
  return last ? (last.pitches[last.pitches.length - 1] ?? null) : null
}

/** All notes of one part between two notes, in time order. */
function rangeBetween(session: ScoreSession, a: string, b: string): string[] {
  const snap = session.model.snapshot
  const na = snap.notes.get(a)
  const nb = snap.notes.get(b)
  if (!na || !nb) return [b]
  const order = new Map(snap.measures.map((m, i) => [m.id, i]))
  const pos = (n: { measure: string; onset: string }) =>
    (order.get(n.measure) ?? 0) * 1e4 + parseFraction(n.onset).n / parseFraction(n.onset).d
  const [lo, hi] = [pos(na), pos(nb)].sort((x, y) => x - y) as [number, number]
  const parts = new Set([na.part, nb.part])
  return [...snap.notes.values()]
    .filter((n) => parts.has(n.part) && pos(n) >= lo && pos(n) <= hi)
    .map((n) => n.id)
}

function selectedRange(
  session: ScoreSession,
  selection: string[],
  cursor: Cursor | null,
): { first: number; last: number; parts: string[] } | null {
  const snap = session.model.snapshot
  const order = new Map(snap.measures.map((m, i) => [m.id, i]))
  const notes = selection.map((id) => snap.notes.get(id)).filter((n) => n !== undefined)
  if (notes.length) {
    const idx = notes.map((n) => order.get(n.measure) ?? 0)
    return {
      first: Math.min(...idx),
      last: Math.max(...idx),
      parts: [...new Set(notes.map((n) => n.part))],
    }
  }
  if (cursor) {
    const i = order.get(cursor.measure)
    if (i !== undefined) return { first: i, last: i, parts: [cursor.part] }
  }
  return null
}

function moveStaff(session: ScoreSession, cur: Cursor, dir: number): Cursor {
  const staves = session.model.snapshot.parts.flatMap((p) =>
    Array.from({ length: p.staves }, (_, i) => ({ part: p.id, staff: i + 1 })),
  )
  const i = staves.findIndex((s) => s.part === cur.part && s.staff === cur.staff)
  const next = staves[Math.max(0, Math.min(staves.length - 1, i + dir))]
  return next ? { ...cur, part: next.part, staff: next.staff } : cur
}

function neighbour(
  session: ScoreSession,
  editor: Editor,
  from: string | null,
  cur: Cursor | null,
  dir: number,
): { note?: string; cursor?: Cursor } | null {
  const snap = session.model.snapshot
  const base = from ? snap.notes.get(from) : undefined
  const where: Cursor | null = base
    ? {
        measure: base.measure,
        part: base.part,
        staff: base.staff,
        voice: base.voice,
        onset: base.onset,
      }
    : cur
  if (!where) return null
  const order = snap.measures.map((m) => m.id)
  let mi = order.indexOf(where.measure)
  const onset = parseFraction(where.onset)
  const here = editor.voiceNotes(where)
  const candidates =
    dir > 0
      ? here.filter((n) => cmp(parseFraction(n.onset), onset) > 0)
      : here.filter((n) => cmp(parseFraction(n.onset), onset) < 0).reverse()
  let found = candidates[0]
  while (!found) {
    mi += dir
    const m = order[mi]
    if (m === undefined) break
    const list = editor.voiceNotes({ ...where, measure: m })
    found = dir > 0 ? list[0] : list[list.length - 1]
    if (!found) return { cursor: { ...where, measure: m, onset: '0' } }
  }
  if (!found) return null
  return {
    note: found.id,
    cursor: {
      measure: found.measure,
      part: found.part,
      staff: found.staff,
      voice: found.voice,
      onset: found.onset,
    },
  }
}

export type { PresenceState }
