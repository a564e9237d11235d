// The score's chat with people and agents: messages, @mention completion of the
// personas, and the progress of the agents' tasks.
import { useEffect, useRef, useState } from 'react'
import { Button, inputClass } from '../components/ui'
import { complete, completions, mentionAt, type ChatMessage, type Persona } from './chat'
import { TaskCard } from './TaskCard'

export interface ActiveTask {
  task: string
  agent: string
  status: string | null
}

export function ChatPanel({
  scoreId,
  messages,
  personas,
  tasks,
  colorOf,
  canPost,
  onPost,
  focus = null,
}: {
  scoreId: string
  messages: ChatMessage[]
  personas: Persona[]
  tasks: ActiveTask[]
  colorOf: (agent: string) => string
  canPost: boolean
  onPost: (text: string) => void
  /** A message to show and mark (a search result opened the score at it). */
  focus?: string | null
}) {
  const [text, setText] = useState('')
  const [caret, setCaret] = useState(0)
  const [pick, setPick] = useState(0)
  const input = useRef<HTMLTextAreaElement>(null)
  const end = useRef<HTMLLIElement>(null)
  const list = useRef<HTMLOListElement>(null)
  const focused = focus !== null && messages.some((m) => m.id === focus)
  useEffect(() => {
    if (focused) {
      const item = list.current?.querySelector(`[data-message="${CSS.escape(focus ?? '')}"]`)
      item?.scrollIntoView?.({ block: 'center' })
    } else end.current?.scrollIntoView?.({ block: 'end' })
  }, [messages.length, focus, focused])

  const mention = mentionAt(text, caret)
  const options = mention ? completions(personas, mention.query) : []
  const choose = (p: Persona) => {
    if (!mention) return
    const next = complete(text, mention.start, caret, p.name)
    setText(next.text)
    setCaret(next.caret)
    setPick(0)
    window.requestAnimationFrame(() => input.current?.setSelectionRange(next.caret, next.caret))
    input.current?.focus()
  }
  const send = () => {
    if (!text.trim()) return
    onPost(text)
    setText('')
    setCaret(0)
  }
  const onKey = (e: React.KeyboardEvent<HTMLTextAreaElement>) => {
    if (options.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault()
        const d = e.key === 'ArrowDown' ? 1 : -1
        setPick((i) => (i + d + options.length) % options.length)
        return
      }
      if (e.key === 'Tab' || e.key === 'Enter') {
        e.preventDefault()
        const p = options[Math.min(pick, options.length - 1)]
        if (p) choose(p)
        return
      }
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault()
      send()
    }
  }

  return (
    <div className="flex h-full flex-col" data-testid="chat">
      {tasks.length > 0 && (
        <div className="flex flex-col gap-1 border-b border-slate-200 p-2" aria-label="Agent tasks">
          {tasks.map((t) => (
            <TaskCard
              key={t.task}
              scoreId={scoreId}
              task={t.task}
              agent={t.agent}
              color={colorOf(t.agent)}
              presenceStatus={t.status}
              canEdit={canPost}
            />
          ))}
        </div>
      )}
      <ol ref={list} className="flex-1 space-y-2 overflow-y-auto p-3" aria-label="Messages">
        {messages.length === 0 && (
          <li className="text-sm text-slate-500">
            No messages yet. Ask an agent with @, e.g. “@aureon harmonise bars 1-4”.
          </li>
        )}
        {messages.map((m) => (
          <li
            key={m.id}
            className={`text-sm ${m.id === focus ? '-mx-1 rounded bg-amber-50 px-1 ring-2 ring-amber-400' : ''}`}
            data-author-kind={m.authorKind}
            data-message={m.id}
            aria-current={m.id === focus ? 'true' : undefined}
          >
            <span
              className="font-semibold"
              style={m.authorKind === 'agent' && m.agent ? { color: colorOf(m.agent) } : undefined}
            >
              {m.author}
              {m.authorKind === 'agent' && (
                <span className="ml-1 rounded bg-slate-800 px-0.5 text-[9px] font-bold text-white">
                  AI
                </span>
              )}
            </span>
            <span className="ml-2 text-xs text-slate-400">{m.time.slice(11, 16)}</span>
            <p className="whitespace-pre-wrap text-slate-800">{m.text}</p>
          </li>
        ))}
        <li ref={end} aria-hidden />
      </ol>
      {canPost ? (
        <div className="relative border-t border-slate-200 p-2">
          {options.length > 0 && (
            <ul
              role="listbox"
              aria-label="Agents"
              className="absolute bottom-full left-2 right-2 mb-1 rounded border border-slate-200 bg-white shadow"
            >
              {options.map((p, i) => (
                <li
                  key={p.name}
                  role="option"
                  aria-selected={i === pick}
                  className={`cursor-pointer px-2 py-1 text-sm ${i === pick ? 'bg-indigo-50' : ''}`}
                  onMouseDown={(e) => {
                    e.preventDefault()
                    choose(p)
                  }}
                >
                  <span className="font-semibold" style={{ color: p.color }}>
                    @{p.name}
                  </span>
                  <span className="ml-2 text-xs text-slate-500">{p.role}</span>
                </li>
              ))}
            </ul>
          )}
          <div className="flex gap-2">
            <textarea
              ref={input}
              rows={2}
              className={`${inputClass} flex-1 resize-none`}
              aria-label="Chat message"
              placeholder="Message, or @agent …"
              value={text}
              onChange={(e) => {
                setText(e.target.value)
                setCaret(e.target.selectionStart)
                setPick(0)
              }}
              onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
              onKeyDown={onKey}
            />
            <Button variant="primary" onClick={send} disabled={!text.trim()}>
              Send
            </Button>
          </div>
        </div>
      ) : (
        <p className="border-t border-slate-200 p-2 text-xs text-slate-500">
          View only: you can read the chat but not post.
        </p>
      )}
    </div>
  )
}
