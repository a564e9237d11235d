// A real browser-style peer for tests/collab_server/test_node_clients.py: the unmodified
// `yjs` + `y-websocket` client editing a score through tests/node/schema.mjs.
//
// Usage: node tests/node/collab_client.mjs '<json options>'
//   url       server base, e.g. ws://127.0.0.1:8000/ws/scores
//   room      score id
//   name      presence name (awareness field `user`)
//   notes     notes to add, one transaction each, spread over the score's cells
//   measures  measure columns to append
//   expect    {notes, measures, names}: wait until the document and presence reach these
//   watch     seconds to stay connected after `done`, reporting close events
//   params    query parameters of the connection, e.g. {"token": "..."}
// Writes one JSON object per line: {"event": "synced"}, {"event": "done", "dump", "names"},
// {"event": "connection-close", "code"}, {"event": "closed", "code"} (no more retries),
// {"event": "error", "message"}; exits 0 when finished, 1 on timeout.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'
import * as S from './schema.mjs'

const opts = JSON.parse(process.argv[2])
const out = obj => process.stdout.write(JSON.stringify(obj) + '\n')
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const deadline = Date.now() + (opts.timeout ?? 20) * 1000

async function until (predicate) {
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for convergence')
    await sleep(5)
  }
}

const doc = new Y.Doc()
const r = S.roots(doc)
const provider = new WebsocketProvider(opts.url, opts.room, doc, {
  WebSocketPolyfill: WebSocket, disableBc: true, maxBackoffTime: 500, params: opts.params ?? {}
})
provider.on('connection-close', event => out({ event: 'connection-close', code: event?.code ?? null }))
provider.on('closed', event => out({ event: 'closed', code: event.code }))
provider.awareness.setLocalStateField('user', { name: opts.name })

const names = () => [...provider.awareness.getStates().values()]
  .map(state => state.user?.name).filter(Boolean).sort()

try {
  await until(() => provider.synced)
  out({ event: 'synced' })
  const parts = r.parts.toArray().map(p => p.get('id'))
  for (let i = 0; i < (opts.notes ?? 0); i++) {
    const measures = r.measures.toArray().map(m => m.get('id'))
    S.addNote(doc, {
      measure: measures[i % measures.length],
      part: parts[i % parts.length],
      onset: `${i % 4}`,
      duration: '1',
      pitches: [['C4', 'E4', 'G4', 'B-3'][i % 4]],
      lyric: `${opts.name}-${i}`
    })
    if (i < (opts.measures ?? 0)) S.insertMeasure(doc, r.measures.length)
    await sleep(2)
  }
  for (let i = opts.notes ?? 0; i < (opts.measures ?? 0); i++) S.insertMeasure(doc, r.measures.length)
  const expect = opts.expect ?? {}
  await until(() => r.notes.size >= (expect.notes ?? 0) &&
    r.measures.length >= (expect.measures ?? 0) &&
    (expect.names ?? []).every(name => names().includes(name)))
  await sleep(50) // let late updates land before the snapshot
  out({ event: 'done', dump: S.dump(doc), names: names() })
  if (opts.watch) await sleep(opts.watch * 1000)
  provider.destroy()
  process.exit(0)
} catch (error) {
  out({ event: 'error', message: String(error) })
  provider.destroy()
  process.exit(1)
}
