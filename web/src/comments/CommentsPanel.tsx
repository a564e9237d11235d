// Comments in a side panel: threads in score order, a new comment anchored to the
// selected note or the cursor's bar, replies, resolve and reopen.
import { useEffect, useRef, useState } from 'react'
import { Button, inputClass } from '../components/ui'
import type { Anchor, Thread } from './comments'

export function CommentsPanel({
  threads,
  anchor,
  anchorLabel,
  numberOf,
  canWrite,
  focus,
  onAdd,
  onReply,
  onResolve,
}: {
  threads: Thread[]
  anchor: Anchor | null
  anchorLabel: string
  numberOf: (measure: string) => number | undefined
  canWrite: boolean
  focus: string | null
  onAdd: (text: string, anchor: Anchor) => void
  onReply: (thread: string, text: string) => void
  onResolve: (thread: string, resolved: boolean) => void
}) {
  const [text, setText] = useState('')
  const [showResolved, setShowResolved] = useState(false)
  const list = useRef<HTMLOListElement>(null)
  // A resolved thread asked for by id (a search result) is shown with the resolved ones.
  const focusResolved = threads.some((t) => t.root.id === focus && t.root.resolved)
  const shown = threads.filter((t) => showResolved || focusResolved || !t.root.resolved)
  useEffect(() => {
    if (!focus) return
    const id = CSS.escape(focus) // a thread's id, or a bar's (a comment marker was clicked)
    const item = list.current?.querySelector(`[data-comment="${id}"], [data-measure="${id}"]`)
    item?.scrollIntoView?.({ block: 'center' })
  }, [focus])
  const resolvedCount = threads.filter((t) => t.root.resolved).length
  return (
    <div className="flex h-full flex-col" data-testid="comments">
      {canWrite && (
        <form
          className="flex flex-col gap-1 border-b border-slate-200 p-2"
          onSubmit={(e) => {
            e.preventDefault()
            if (anchor && text.trim()) {
              onAdd(text, anchor)
              setText('')
            }
          }}
        >
          <label className="text-xs text-slate-600" htmlFor="new-comment">
            Comment on {anchor ? anchorLabel : '… (click a note or a bar first)'}
          </label>
          <textarea
            id="new-comment"
            rows={2}
            className={`${inputClass} resize-none`}
            value={text}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey) {
                e.preventDefault()
                e.currentTarget.form?.requestSubmit()
              }
            }}
          />
          <Button type="submit" variant="primary" disabled={!anchor || !text.trim()}>
            Add comment
          </Button>
        </form>
      )}
      <ol ref={list} className="flex-1 space-y-2 overflow-y-auto p-2" aria-label="Comment threads">
        {shown.length === 0 && <li className="text-sm text-slate-500">No open comments.</li>}
        {shown.map((t) => (
          <ThreadView
            key={t.root.id}
            thread={t}
            bar={numberOf(t.root.measure)}
            canWrite={canWrite}
            focused={focus === t.root.id || focus === t.root.measure}
            onReply={(x) => onReply(t.root.id, x)}
            onResolve={(r) => onResolve(t.root.id, r)}
          />
        ))}
      </ol>
      {resolvedCount > 0 && (
        <label className="flex items-center gap-2 border-t border-slate-200 p-2 text-xs text-slate-600">
          <input
            type="checkbox"
            checked={showResolved}
            onChange={(e) => setShowResolved(e.target.checked)}
          />
          Show {resolvedCount} resolved
        </label>
      )}
    </div>
  )
}

function ThreadView({
  thread,
  bar,
  canWrite,
  focused,
  onReply,
  onResolve,
}: {
  thread: Thread
  bar: number | undefined
  canWrite: boolean
  focused: boolean
  onReply: (text: string) => void
  onResolve: (resolved: boolean) => void
}) {
  const [reply, setReply] = useState('')
  const { root, replies } = thread
  return (
    <li
      className={`rounded bg-white p-2 text-sm shadow-sm ${focused ? 'ring-2 ring-amber-400' : ''} ${root.resolved ? 'opacity-60' : ''}`}
      data-comment={root.id}
      data-measure={root.measure}
      data-resolved={root.resolved}
      aria-current={focused ? 'true' : undefined}
      aria-label={`Comment on bar ${bar ?? '?'}`}
    >
      <div className="flex items-center gap-2 text-xs text-slate-500">
        <span className="rounded bg-amber-100 px-1 font-medium text-amber-900">
          Bar {bar ?? '?'}
          {root.onset && root.part ? ` · beat ${beat(root.onset)}` : ''}
        </span>
        {canWrite && (
          <Button
            variant="ghost"
            className="ml-auto !px-2 !py-0.5 text-xs"
            onClick={() => onResolve(!root.resolved)}
          >
            {root.resolved ? 'Reopen' : 'Resolve'}
          </Button>
        )}
      </div>
      {[root, ...replies].map((c) => (
        <div key={c.id} className="mt-1" data-comment-text>
          <span className="font-semibold">{c.author}</span>
          <span className="ml-2 text-xs text-slate-400">{c.time.slice(11, 16)}</span>
          <p className="whitespace-pre-wrap text-slate-800">{c.text}</p>
        </div>
      ))}
      {canWrite && !root.resolved && (
        <form
          className="mt-1 flex gap-1"
          onSubmit={(e) => {
            e.preventDefault()
            if (reply.trim()) {
              onReply(reply)
              setReply('')
            }
          }}
        >
          <input
            className={inputClass}
            aria-label="Reply"
            placeholder="Reply…"
            value={reply}
            onChange={(e) => setReply(e.target.value)}
          />
          <Button type="submit" disabled={!reply.trim()}>
            Reply
          </Button>
        </form>
      )}
    </li>
  )
}

function beat(onset: string): string {
  const [n, d] = onset.split('/').map(Number)
  const b = (n ?? 0) / (d ?? 1) + 1
  return Number.isInteger(b) ? String(b) : b.toFixed(2)
}
