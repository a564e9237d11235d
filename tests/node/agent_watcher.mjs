// A person's browser watching agents work, for tests/agents and
// tests/collab_server/test_participants.py: the unmodified `yjs` + `y-websocket` client.
//
// Usage: node tests/node/agent_watcher.mjs '<json options>'
//   url, room, name, token (optional), timeout (seconds)
// Writes one JSON object per line:
//   {"event": "synced"}
//   {"event": "presence", "states": [{clientId, user, ...state}]} on every awareness change
//   {"event": "notes", "count", "t"} when the notes map changes (t: ms since the epoch)
//   {"event": "suggestions", "items": {id: value}} when the suggestions map changes
//   {"event": "chat", "messages"} when the chat changes
//   {"event": "dump", "dump", "suggestions", "chat"} in answer to {"cmd": "dump"}
// Reads commands, one JSON object per line, on stdin:
//   {"cmd": "accept", "id", "measures"?}  accept a suggestion the way docs/score-schema.md
//                                          says: set its status to "accepted" (the server
//                                          applies it)
//   {"cmd": "accept_task", "task"}          accept every pending suggestion of a task
//   {"cmd": "reject", "id"}                 reject (delete) a suggestion
//   {"cmd": "chat", "text"}                 post to the chat (answers {"event": "posted", t})
//   {"cmd": "dump"}, {"cmd": "quit"}
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import * as readline from 'node:readline'
import * as S from './schema.mjs'

const opts = JSON.parse(process.argv[2])
const out = obj => process.stdout.write(JSON.stringify(obj) + '\n')
const doc = new Y.Doc()
const r = S.roots(doc)
const provider = new WebsocketProvider(opts.url, opts.room, doc, {
  WebSocketPolyfill: WebSocket, disableBc: true, maxBackoffTime: 500,
  params: opts.token ? { token: opts.token } : {}
})
provider.awareness.setLocalStateField('user', { name: opts.name ?? 'watcher', kind: 'person' })

const states = () => [...provider.awareness.getStates().entries()]
  .filter(([id]) => id !== doc.clientID)
  .map(([clientId, state]) => ({ clientId, ...state }))
provider.awareness.on('change', () => out({ event: 'presence', states: states() }))
provider.on('sync', synced => { if (synced) out({ event: 'synced' }) })
r.notes.observe(() => out({ event: 'notes', count: r.notes.size, t: Date.now() }))
r.chat.observe(() => out({ event: 'chat', messages: r.chat.toJSON() }))
r.suggestions.observe(() => out({ event: 'suggestions', items: r.suggestions.toJSON() }))

const finish = code => { provider.destroy(); process.exit(code) }
setTimeout(() => { out({ event: 'error', message: 'timeout' }); finish(1) },
  (opts.timeout ?? 30) * 1000)

readline.createInterface({ input: process.stdin }).on('line', line => {
  const command = JSON.parse(line)
  try {
    if (command.cmd === 'accept') S.acceptSuggestion(doc, command.id, opts.name ?? 'watcher', command.measures)
    else if (command.cmd === 'accept_task') S.acceptTask(doc, command.task, opts.name ?? 'watcher')
    else if (command.cmd === 'reject') S.rejectSuggestion(doc, command.id)
    else if (command.cmd === 'chat') { S.postChat(doc, opts.name ?? 'watcher', command.text); out({ event: 'posted', t: Date.now() }) }
    else if (command.cmd === 'dump') {
      out({ event: 'dump', dump: S.dump(doc), suggestions: r.suggestions.toJSON(), chat: r.chat.toJSON() })
    } else if (command.cmd === 'quit') finish(0)
  } catch (error) {
    out({ event: 'error', message: String(error) })
  }
})
