// Chat, suggestions and comments on the score page: the header buttons, the overlays on
// the engraved score (ghost notes, comment markers) and the side panel.
import { useCallback, useEffect, useMemo, useState, type ReactNode, type RefObject } from 'react'
import type { ScoreSession, Cursor } from '../score/session'
import { LOCAL } from '../score/session'
import type { Editor } from '../score/edit'
import { measureNumbers } from '../render/mei'
import { Button } from '../components/ui'
import { postChat, readChat, tasksOf } from './chat'
import { useShared, usePersonas } from './shared'
import { ChatPanel, type ActiveTask } from './ChatPanel'
import { accept, readSuggestions, reject, reviews } from '../suggestions/suggestions'
import { SuggestionsPanel } from '../suggestions/SuggestionsPanel'
import { GhostLayer } from '../suggestions/GhostLayer'
import {
  addComment,
  openPerMeasure,
  readComments,
  setResolved,
  threads,
} from '../comments/comments'
import { CommentsPanel } from '../comments/CommentsPanel'
import { CommentMarkers } from '../comments/CommentMarkers'

export type CollabTab = 'chat' | 'suggestions' | 'comments'

interface Props {
  session: ScoreSession
  editor: Editor
  scoreId: string
  user: { id: string; name: string }
  readOnly: boolean
  cursor: Cursor | null
  selection: string[]
  container: RefObject<HTMLElement | null>
  presenceTick: number
  version: number
  /** Open the panel at this comment or chat message (a search result); a new object
   * each time it is asked for. */
  reveal?: { kind: 'comment' | 'chat'; id: string } | null
}

export function useCollab(p: Props): { buttons: ReactNode; overlay: ReactNode; panel: ReactNode } {
  const { session, editor, readOnly } = p
  const [tab, setTab] = useState<CollabTab | null>(null)
  const [focus, setFocus] = useState<{ task: string; measure: string } | null>(null)
  const [commentFocus, setCommentFocus] = useState<string | null>(null)
  const [chatFocus, setChatFocus] = useState<string | null>(null)
  const r = session.model.roots
  const personas = usePersonas()
  const colorOf = useCallback(
    (agent: string) => personas.find((x) => x.name === agent)?.color ?? '#7048e8',
    [personas],
  )
  const messages = useShared(r.chat, () => readChat(r.chat.toArray()))
  const suggestions = useShared(r.suggestions, () => readSuggestions(r.suggestions.entries()))
  const comments = useShared(r.comments, () => readComments(r.comments.entries()))
  const snap = session.model.snapshot
  const order = useMemo(
    () => snap.measures.map((m) => m.id),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [p.version],
  )
  const numbers = useMemo(() => {
    const n = measureNumbers(snap.measures)
    return new Map(order.map((id, i) => [id, n[i] ?? i + 1]))
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [order])
  const numberOf = useCallback((m: string) => numbers.get(m), [numbers])
  const open = useMemo(() => reviews(suggestions, order), [suggestions, order])
  const threadList = useMemo(() => threads(comments, order), [comments, order])
  const markerCounts = useMemo(() => openPerMeasure(threadList), [threadList])

  useEffect(() => {
    const item = p.reveal
    if (!item) return
    setTab(item.kind === 'comment' ? 'comments' : 'chat')
    if (item.kind === 'chat') setChatFocus(item.id)
    else {
      // A reply is shown in its thread: mark the thread's first comment.
      const raw = r.comments.get(item.id) as { reply_to?: unknown } | undefined
      const root = typeof raw?.reply_to === 'string' && r.comments.has(raw.reply_to)
      setCommentFocus(root ? (raw?.reply_to as string) : item.id)
    }
  }, [p.reveal, r.comments])

  const tasks: ActiveTask[] = useMemo(() => {
    const active = new Map<string, ActiveTask>()
    for (const { state } of session.peers()) {
      const s = state as {
        user?: { kind?: string }
        task?: unknown
        agent?: unknown
        status?: unknown
      }
      if (s.user?.kind === 'agent' && typeof s.task === 'string')
        active.set(s.task, {
          task: s.task,
          agent: typeof s.agent === 'string' ? s.agent : '',
          status: typeof s.status === 'string' ? s.status : null,
        })
    }
    const replied = tasksOf(messages).slice(-3)
    for (const t of replied)
      if (!active.has(t))
        active.set(t, {
          task: t,
          agent: messages.find((m) => m.task === t)?.agent ?? '',
          status: null,
        })
    return [...active.values()]
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session, p.presenceTick, messages])

  const anchor = useMemo(() => {
    const note = p.selection.length ? snap.notes.get(p.selection[0] ?? '') : undefined
    if (note) return { measure: note.measure, part: note.part, onset: note.onset }
    return p.cursor ? { measure: p.cursor.measure, part: p.cursor.part } : null
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [p.selection, p.cursor, p.version])
  const anchorLabel = anchor
    ? `bar ${numberOf(anchor.measure) ?? '?'}${p.selection.length ? ' (the selected note)' : ''}`
    : ''

  const pending = open.reduce((n, t) => n + t.measures.filter((m) => m.pending).length, 0)
  const openComments = threadList.filter((t) => !t.root.resolved).length
  const toggle = (t: CollabTab) => setTab((cur) => (cur === t ? null : t))
  const buttons = (
    <>
      <Button onClick={() => toggle('chat')} aria-expanded={tab === 'chat'}>
        Chat
      </Button>
      <Button onClick={() => toggle('suggestions')} aria-expanded={tab === 'suggestions'}>
        Suggestions{pending ? ` (${pending})` : ''}
      </Button>
      <Button onClick={() => toggle('comments')} aria-expanded={tab === 'comments'}>
        Comments{openComments ? ` (${openComments})` : ''}
      </Button>
    </>
  )
  const overlay = (
    <>
      <GhostLayer
        container={p.container}
        model={session.model}
        editor={editor}
        suggestions={suggestions}
        colorOf={colorOf}
        onPick={(task, measure) => {
          setTab('suggestions')
          setFocus({ task, measure })
        }}
      />
      <CommentMarkers
        container={p.container}
        model={session.model}
        counts={markerCounts}
        onOpen={(measure) => {
          setTab('comments')
          setCommentFocus(measure)
        }}
      />
    </>
  )
  const title = { chat: 'Chat', suggestions: 'Suggestions', comments: 'Comments' }
  const panel = tab && (
    <aside
      className="flex w-80 shrink-0 flex-col border-l border-slate-200 bg-slate-50"
      aria-label={title[tab]}
    >
      <div className="flex items-center border-b border-slate-200 bg-white px-3 py-1.5">
        <h2 className="flex-1 text-sm font-semibold">{title[tab]}</h2>
        <Button variant="ghost" onClick={() => setTab(null)} aria-label="Close panel">
          ✕
        </Button>
      </div>
      <div className="min-h-0 flex-1 overflow-y-auto">
        {tab === 'chat' && (
          <ChatPanel
            scoreId={p.scoreId}
            messages={messages}
            personas={personas}
            tasks={tasks}
            colorOf={colorOf}
            canPost={!readOnly}
            onPost={(text) => session.transact(() => postChat(r.chat, p.user.name, text))}
            focus={chatFocus}
          />
        )}
        {tab === 'suggestions' && (
          <SuggestionsPanel
            reviews={open}
            numberOf={numberOf}
            colorOf={colorOf}
            readOnly={readOnly}
            focus={focus}
            onAccept={(ids) => accept(session.doc, r.suggestions, ids, p.user.id, LOCAL)}
            onReject={(ids) => reject(session.doc, r.suggestions, ids, LOCAL)}
          />
        )}
        {tab === 'comments' && (
          <CommentsPanel
            threads={threadList}
            anchor={anchor}
            anchorLabel={anchorLabel}
            numberOf={numberOf}
            canWrite={!readOnly}
            focus={commentFocus}
            onAdd={(text, a) => addComment(session.doc, r.comments, p.user.name, text, a, LOCAL)}
            onReply={(thread, text) => {
              const root = threadList.find((t) => t.root.id === thread)?.root
              if (root) addComment(session.doc, r.comments, p.user.name, text, root, LOCAL, thread)
            }}
            onResolve={(thread, resolved) =>
              setResolved(session.doc, r.comments, thread, resolved, LOCAL)
            }
          />
        )}
      </div>
    </aside>
  )
  return { buttons, overlay, panel }
}
