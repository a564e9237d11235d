// Load client for bench/collab/run.py: the unmodified `yjs` + `y-websocket` clients (from
// tests/node/node_modules) driving a collaboration server on loopback, every client with
// presence on (awareness field `user` set, so y-websocket renews it every 15 s and re-sends
// the states it learns, as in a browser).
//
// Usage: node bench/collab/load.mjs '<json options>'
//   common: mode, url (e.g. ws://127.0.0.1:8000/ws/scores), timeout (s, whole run),
//           presence (default true; false leaves the awareness state empty),
//           protocol ('y-websocket', the default, or 'hocuspocus': the unmodified
//           `@hocuspocus/provider` 4.7 from bench/collab/peers/node_modules, for Hocuspocus,
//           which speaks its own protocol; it shares the tests' yjs, so one yjs instance runs)
//   latency: room, edits, warmup, [pace]   one writer, one reader, sequential edits
//            ([pace] ms between one edit's arrival and the next edit)
//   fanout:  room, listeners, updates      one writer as fast as the provider sends, or at
//            [rate] edits/s when given; delivery latency p50/p99 from edit to observer
//   write:   room, updates, [rate]         the fan-out's writer alone, for listeners in other
//            processes: reports "connected", starts at a line on stdin ("ready" then)
//   listen:  room, listeners, updates, [first]  the fan-out's listeners alone: "ready" once
//            synced, then every delivery delay (ms, from the writer's clock stamp in the
//            note's lyric: processes on one machine share the clock) and the epoch ms
//            when the last listener had every note
//   fill:    room, notes                   put `notes` notes in a room, then stay connected
//   join:    room, clients, notes, [go]    `clients` connect at once; time until all synced
//            (with go, connect at a line on stdin, so several processes start together;
//            the result then has the start and every client's synced time, epoch ms)
//   idle:    rooms, perRoom                connect, report, hold until stdin closes
// Writes JSON lines: {"event": "ready"} when the measured phase starts (the runner samples
// server CPU there), {"event": "result", ...} at the end; exits 0, or 1 on error.
import * as Y from '../../tests/node/node_modules/yjs/dist/yjs.mjs'
import { WebsocketProvider } from '../../tests/node/node_modules/y-websocket/src/y-websocket.js'
import WebSocket from '../../tests/node/node_modules/ws/wrapper.mjs'
import * as S from '../../tests/node/schema.mjs'

const Hocuspocus = JSON.parse(process.argv[2]).protocol === 'hocuspocus'
  ? await import('./peers/node_modules/@hocuspocus/provider/dist/hocuspocus-provider.esm.js')
  : null

process.setMaxListeners(0) // each provider adds an exit listener
const opts = JSON.parse(process.argv[2])
const out = obj => process.stdout.write(JSON.stringify(obj) + '\n')
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const now = () => performance.now()
const epoch = () => performance.timeOrigin + performance.now() // shared by processes
const deadline = Date.now() + (opts.timeout ?? 60) * 1000
const clients = []

class TimedOut extends Error {}

async function until (predicate, limit = deadline) {
  while (!predicate()) {
    if (Date.now() > limit) throw new TimedOut('timed out')
    await sleep(2)
  }
}

function connect (room, name) {
  const doc = new Y.Doc()
  const provider = Hocuspocus
    ? new Hocuspocus.HocuspocusProvider({ url: opts.url, name: room, document: doc, WebSocketPolyfill: WebSocket })
    : new WebsocketProvider(opts.url, room, doc, {
      WebSocketPolyfill: WebSocket, disableBc: true, maxBackoffTime: 1000
    })
  if (opts.presence !== false) provider.awareness.setLocalStateField('user', { name })
  const client = { doc, provider, roots: S.roots(doc) }
  clients.push(client)
  return client
}

/** Make sure the room holds a score (a REST-created Orpheus score does; a stock room starts
 * empty): returns the measure and part ids to place notes in. */
function cells (client) {
  const { parts, measures } = client.roots
  if (parts.length === 0) S.createScore(client.doc, { title: 'bench', parts: ['A', 'B'], measures: 8 })
  return { parts: parts.toArray().map(p => p.get('id')), measures: measures.toArray().map(m => m.get('id')) }
}

function note (ids, i, author, stamp = '') {
  return {
    measure: ids.measures[i % ids.measures.length],
    part: ids.parts[i % ids.parts.length],
    onset: `${i % 4}`,
    duration: '1',
    pitches: [['C4', 'E4', 'G4', 'B-3'][i % 4]],
    lyric: `${author}-${i}${stamp}`
  }
}

/** The writer's clock when it made the note, from a fan-out note's lyric (`writer-7@<ms>`). */
function stampOf (value) {
  const at = value?.lyric?.indexOf('@') ?? -1
  return at < 0 ? undefined : +value.lyric.slice(at + 1)
}

/** The fan-out's `opts.listeners` listeners, numbered from `first`, once synced with the score. */
async function connectListeners (first) {
  const listeners = Array.from({ length: opts.listeners }, (_, i) => connect(opts.room, `listener-${first + i}`))
  await until(() => listeners.every(l => l.provider.synced && l.roots.parts.length > 0))
  return listeners
}

/** Listeners observing a fan-out: each delivery's delay from the writer's stamp; `done`
 * counts listeners holding every note (`target` of them), `lastDone` is when the last did. */
function observeDeliveries (listeners, target) {
  const seen = { delays: [], finished: 0, lastDone: 0 }
  for (const l of listeners) {
    let done = false
    l.roots.notes.observe(event => {
      const at = epoch()
      for (const key of event.keysChanged) {
        const sent = stampOf(l.roots.notes.get(key))
        if (sent !== undefined) seen.delays.push(at - sent)
      }
      if (!done && l.roots.notes.size >= target) { done = true; seen.finished++; seen.lastDone = at }
    })
  }
  return seen
}

/** The fan-out's edits: as fast as the provider sends (a turn every 50 edits), or at `rate`
 * edits/s; each note stamped with the writer's clock. Returns when the last was made. */
async function writeNotes (writer, ids, started) {
  for (let i = 0; i < opts.updates; i++) {
    if (opts.rate) { // paced: edit i is due at i / rate s, so delivery latency is not queueing
      const wait = started + i * 1000 / opts.rate - now()
      if (wait > 0) await sleep(wait)
    }
    S.addNote(writer.doc, note(ids, i, 'writer', `@${epoch().toFixed(3)}`))
    if (!opts.rate && i % 50 === 49) await sleep(0) // let the socket drain and replies arrive
  }
}

function cpuMeter () {
  const cpu0 = process.cpuUsage()
  return () => { const u = process.cpuUsage(cpu0); return +((u.user + u.system) / 1e6).toFixed(3) }
}

function quantiles (values) {
  const sorted = [...values].sort((a, b) => a - b)
  const q = p => sorted.length ? +sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)].toFixed(3) : null
  return { n: sorted.length, p50: q(0.5), p99: q(0.99), max: q(1) }
}

async function latency () {
  const writer = connect(opts.room, 'writer')
  await until(() => writer.provider.synced)
  const ids = cells(writer)
  const reader = connect(opts.room, 'reader')
  await until(() => reader.provider.synced && reader.roots.parts.length > 0)
  await sleep(300)
  let waiting = null
  reader.roots.notes.observe(event => {
    if (waiting && event.keysChanged.has(waiting.id)) waiting.resolve(now())
  })
  out({ event: 'ready' })
  const samples = []
  const total = (opts.warmup ?? 20) + opts.edits
  for (let i = 0; i < total; i++) {
    let resolve
    const received = new Promise(r => { resolve = r })
    const started = now()
    writer.doc.transact(() => {
      const id = S.newId('n')
      waiting = { id, resolve }
      writer.roots.notes.set(id, S.noteValue(note(ids, i, 'writer')))
    })
    const timer = setTimeout(() => resolve(null), Math.max(0, deadline - Date.now()))
    const at = await received
    clearTimeout(timer)
    if (at === null) throw new TimedOut(`edit ${i} never arrived`)
    if (i >= (opts.warmup ?? 20)) samples.push(at - started)
    if (opts.pace) await sleep(opts.pace)
  }
  const mean = +(samples.reduce((a, b) => a + b, 0) / samples.length).toFixed(3)
  return { ...quantiles(samples), mean, ...(opts.samples ? { samples: samples.map(v => +v.toFixed(3)) } : {}) }
}

async function fanout () {
  const writer = connect(opts.room, 'writer')
  await until(() => writer.provider.synced)
  const ids = cells(writer)
  const listeners = await connectListeners(0)
  await sleep(500) // presence exchange settles
  const base = writer.roots.notes.size
  const seen = observeDeliveries(listeners, base + opts.updates)
  out({ event: 'ready' })
  const clientCpu = cpuMeter()
  const startedAt = epoch()
  const started = now()
  await writeNotes(writer, ids, started)
  const sent = now()
  try {
    await until(() => seen.finished === listeners.length, Date.now() + (opts.runTimeout ?? 60) * 1000)
  } catch (error) {
    if (!(error instanceof TimedOut)) throw error
    return { completed: false, listeners_done: seen.finished, seconds: +((now() - started) / 1000).toFixed(3), client_cpu_s: clientCpu() }
  }
  const seconds = (seen.lastDone - startedAt) / 1000
  return {
    completed: true,
    listeners_done: seen.finished,
    seconds: +seconds.toFixed(3),
    send_seconds: +((sent - started) / 1000).toFixed(3),
    updates_per_s: +(opts.updates / seconds).toFixed(1),
    client_cpu_s: clientCpu(),
    delivery_ms: quantiles(seen.delays)
  }
}

async function write () {
  const writer = connect(opts.room, 'writer')
  await until(() => writer.provider.synced)
  const ids = cells(writer)
  out({ event: 'connected' })
  await waitForStdinLine()
  out({ event: 'ready' })
  const clientCpu = cpuMeter()
  const startedAt = epoch()
  const started = now()
  await writeNotes(writer, ids, started)
  out({ event: 'result', started_at: startedAt, send_seconds: +((now() - started) / 1000).toFixed(3), client_cpu_s: clientCpu() })
  await holdUntilStdinCloses() // stays connected until the listeners are done
  return null
}

async function listen () {
  const listeners = await connectListeners(opts.first ?? 0)
  const seen = observeDeliveries(listeners, listeners[0].roots.notes.size + opts.updates)
  out({ event: 'ready' })
  const clientCpu = cpuMeter()
  try {
    await until(() => seen.finished === listeners.length)
  } catch (error) {
    if (!(error instanceof TimedOut)) throw error
    return { completed: false, listeners_done: seen.finished, client_cpu_s: clientCpu() }
  }
  return {
    completed: true,
    listeners_done: seen.finished,
    last_done: seen.lastDone,
    client_cpu_s: clientCpu(),
    delays: seen.delays.map(d => +d.toFixed(3))
  }
}

async function fill () {
  const filler = connect(opts.room, 'filler')
  await until(() => filler.provider.synced)
  const ids = cells(filler)
  for (let i = 0; i < opts.notes; i += 100) {
    filler.doc.transact(() => {
      for (let j = i; j < Math.min(opts.notes, i + 100); j++) {
        filler.roots.notes.set(S.newId('n'), S.noteValue(note(ids, j, 'filler')))
      }
    })
    await sleep(0)
  }
  // A fresh client confirms the server holds everything before the measured phase.
  const check = connect(opts.room, 'check')
  await until(() => check.provider.synced && check.roots.notes.size >= opts.notes)
  check.provider.destroy()
  clients.splice(clients.indexOf(check), 1)
  const encoded = Y.encodeStateAsUpdate(filler.doc).length
  out({ event: 'result', notes: filler.roots.notes.size, state_bytes: encoded })
  await holdUntilStdinCloses()
  return null
}

async function join () {
  out({ event: 'ready' })
  if (opts.go) await waitForStdinLine()
  const clientCpu = cpuMeter()
  const startedAt = epoch()
  const started = now()
  const times = []
  const joiners = Array.from({ length: opts.clients }, (_, i) => connect(opts.room, `joiner-${i}`))
  const pending = new Set(joiners)
  try {
    await until(() => {
      for (const c of pending) {
        if (c.provider.synced && c.roots.notes.size >= opts.notes) {
          times.push(now() - started)
          pending.delete(c)
        }
      }
      return pending.size === 0
    })
  } catch (error) {
    if (!(error instanceof TimedOut)) throw error
    return { completed: false, synced: times.length, client_cpu_s: clientCpu() }
  }
  return {
    completed: true,
    synced: times.length,
    all_ms: +Math.max(...times).toFixed(1),
    ...quantiles(times),
    client_cpu_s: clientCpu(),
    ...(opts.go ? { started_at: startedAt, synced_at: times.map(t => +(startedAt + t).toFixed(3)) } : {})
  }
}

async function idle () {
  // First one client per room, ten rooms at a time (stock pycrdt-websocket hangs clients that
  // join a room that does not exist yet at the same moment), then everyone else at once.
  const firsts = []
  for (let i = 0; i < opts.rooms.length; i += 10) {
    const batch = opts.rooms.slice(i, i + 10).map((room, j) => connect(room, `idle-${i + j}-0`))
    await until(() => batch.every(c => c.provider.synced))
    firsts.push(...batch)
  }
  await sleep(1000)
  out({ event: 'rooms-open', connections: clients.length })
  await waitForStdinLine()
  const rest = []
  for (const [r, room] of opts.rooms.entries()) {
    for (let k = 1; k < opts.perRoom; k++) rest.push(connect(room, `idle-${r}-${k}`))
  }
  await until(() => rest.every(c => c.provider.synced))
  const open = clients.filter(c => Hocuspocus
    ? c.provider.configuration.websocketProvider.status === 'connected'
    : c.provider.wsconnected).length
  out({ event: 'connected', connections: clients.length, open })
  await holdUntilStdinCloses()
  return null
}

let stdinLines = null
function stdinReader () {
  if (stdinLines) return stdinLines
  stdinLines = { buffered: 0, waiters: [], closed: false, onClose: [] }
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', chunk => {
    for (const ch of chunk) {
      if (ch !== '\n') continue
      const waiter = stdinLines.waiters.shift()
      if (waiter) waiter(); else stdinLines.buffered++
    }
  })
  process.stdin.on('end', () => {
    stdinLines.closed = true
    for (const w of [...stdinLines.waiters, ...stdinLines.onClose]) w()
  })
  return stdinLines
}

function waitForStdinLine () {
  const s = stdinReader()
  if (s.buffered > 0) { s.buffered--; return Promise.resolve() }
  if (s.closed) return Promise.resolve()
  return new Promise(resolve => s.waiters.push(resolve))
}

function holdUntilStdinCloses () {
  const s = stdinReader()
  if (s.closed) return Promise.resolve()
  return Promise.race([new Promise(resolve => s.onClose.push(resolve)), until(() => false).catch(() => {})])
}

const modes = { latency, fanout, write, listen, fill, join, idle }
try {
  const result = await modes[opts.mode]()
  if (result) { // a large line (listeners' delays) must reach the pipe before exit
    await new Promise(resolve => process.stdout.write(JSON.stringify({ event: 'result', ...result }) + '\n', resolve))
  }
  for (const c of clients) c.provider.destroy()
  process.exit(0)
} catch (error) {
  out({ event: 'error', message: String(error?.stack ?? error) })
  process.exit(1)
}
