// The score's chat (the document's `chat` root): reading messages, writing one, and
// @mention completion of the agents' personas.
import type * as Y from 'yjs'
import { newId, type Json } from '../score/schema'

export interface ChatMessage {
  id: string
  author: string
  text: string
  time: string
  /** `agent` for an agent's reply, else `person` */
  authorKind: 'person' | 'agent'
  agent: string | null
  task: string | null
}

export interface Persona {
  name: string
  display_name: string
  color: string
  role: string
  abilities: string[]
  writes: boolean
}

/** The readable messages of the chat root, oldest first (off-schema entries skipped). */
export function readChat(raw: readonly unknown[]): ChatMessage[] {
  const out: ChatMessage[] = []
  for (const m of raw) {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) continue
    const r = m as Record<string, unknown>
    if (typeof r.text !== 'string' || typeof r.author !== 'string') continue
    const agent = r.author_kind === 'agent' || (r.kind !== undefined && r.kind !== 'message')
    out.push({
      id: typeof r.id === 'string' ? r.id : `c_${out.length}`,
      author: r.author,
      text: r.text,
      time: typeof r.time === 'string' ? r.time : '',
      authorKind: agent ? 'agent' : 'person',
      agent: typeof r.agent === 'string' ? r.agent : null,
      task: typeof r.task === 'string' ? r.task : null,
    })
  }
  return out
}

/** A person's message as stored (docs/score-schema.md, `chat`). */
export function chatValue(author: string, text: string, now = new Date()): { [k: string]: Json } {
  return {
    id: newId('c'),
    author,
    text: text.trim().slice(0, 10000),
    kind: 'message',
    time: now.toISOString().replace('Z', '+00:00'),
  }
}

/** Append a message (the chat is append only). */
export function postChat(chat: Y.Array<Json>, author: string, text: string): void {
  chat.push([chatValue(author, text)])
}

/** The `@word` being typed at the caret, if any: its start index and the partial name. */
export function mentionAt(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret)
  const match = /(^|[^\w@])@([a-z0-9_]*)$/i.exec(before)
  if (!match) return null
  const query = match[2] ?? ''
  return { start: caret - query.length - 1, query: query.toLowerCase() }
}

/** Personas whose name or display name starts with the query (name matches first). */
export function completions(personas: readonly Persona[], query: string): Persona[] {
  const q = query.toLowerCase()
  const byName = personas.filter((p) => p.name.toLowerCase().startsWith(q))
  const byDisplay = personas.filter(
    (p) => !byName.includes(p) && p.display_name.toLowerCase().startsWith(q),
  )
  return [...byName, ...byDisplay]
}

/** Replace the `@partial` at `start..caret` with `@name ` and return the new text and caret. */
export function complete(
  text: string,
  start: number,
  caret: number,
  name: string,
): { text: string; caret: number } {
  const inserted = `@${name} `
  const rest = text.slice(caret).replace(/^\S*/, '').replace(/^ /, '')
  return { text: text.slice(0, start) + inserted + rest, caret: start + inserted.length }
}

/** Task ids the message names: a reply by an agent carries its task. */
export function tasksOf(messages: readonly ChatMessage[]): string[] {
  return [...new Set(messages.flatMap((m) => (m.task ? [m.task] : [])))]
}
