// Edit-to-overlay latency of the browser client's analysis overlays, in Chromium
// (playwright-core, Debian's chromium), on a 200-measure, four-part score uploaded to a
// real `orpheus serve` (in-process analysis worker).
//
//   node bench/web/overlay.mjs [--edits 30]
//
// Client A re-pitches one whole chord (a step up in the key, then back: I <-> ii) in a
// bar on screen; client B waits (checked every frame) until the Roman numeral under that
// bar shows the new figure. Latency = B's clock when it shows - A's clock before the edit
// (same machine). It covers the Yjs update to the server, the debounced analysis job
// (200 ms quiet), the incremental analysis, the server-sent event and B's overlay.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const requireWeb = createRequire(join(repo, 'web', 'package.json'))
const { chromium } = requireWeb('playwright-core')
const arg = (name, fallback) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : fallback }
const EDITS = arg('--edits', 30)
const MEASURES = 200
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const PASSWORD = 'bench-admin-password-0'
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] }

async function freePort () {
  return await new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) }) })
}

async function startServer () {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'orpheus-bench-overlay-'))
  const child = spawn(process.env.ORPHEUS_PYTHON ?? 'python3', ['-m', 'collab_server.cli', 'serve', '--port', String(port), '--data-dir', dataDir], {
    cwd: repo, stdio: 'ignore',
    env: { ...process.env, ORPHEUS_ADMIN_PASSWORD: PASSWORD, ORPHEUS_LOGIN_RATE_PER_IP: '0', ORPHEUS_REST_RATE_PER_IP: '0' }
  })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; i < 400; i++) {
    try { if ((await fetch(base + '/readyz')).ok) return { base, child, dataDir } } catch {}
    await new Promise(r => setTimeout(r, 150))
  }
  throw new Error('server did not start')
}

/** 200 bars of whole-note chords, I IV V I ... in C, soprano/alto/tenor/bass. */
function scoreJson () {
  const chords = [['C5', 'G4', 'E4', 'C3'], ['C5', 'A4', 'F3', 'F2'], ['B4', 'G4', 'D4', 'G2'], ['C5', 'G4', 'E3', 'C3']]
  const parts = ['Soprano', 'Alto', 'Tenor', 'Bass'].map((name, i) => ({ id: `p_part0000000${i}`, name, ...(i > 1 ? { clef: 'bass' } : {}) }))
  const measures = []
  const notes = {}
  for (let m = 0; m < MEASURES; m++) {
    const id = `m_bar${String(m).padStart(9, '0')}`
    measures.push(m === 0 ? { id, time: '4/4', key: { fifths: 0 } } : { id })
    chords[m % 4].forEach((pitch, i) => {
      notes[`n_${String(m).padStart(5, '0')}p${i}00000`] = { measure: id, part: parts[i].id, onset: '0', duration: '4', pitches: [pitch] }
    })
  }
  return { schema_version: 1, meta: { title: 'Overlay bench', composer: '', schema_version: 1 }, parts, measures, notes, comments: {}, chat: [] }
}

const server = await startServer()
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ARGS })
async function main () {
  const login = await (await fetch(server.base + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: PASSWORD }) })).json()
  const score = await (await fetch(server.base + '/api/scores', { method: 'POST', headers: { 'content-type': 'application/json', Authorization: `Bearer ${login.access_token}` }, body: JSON.stringify(scoreJson()) })).json()
  const session = JSON.stringify({ token: login.access_token, user: login.user, expiresAt: Date.now() + 3600e3 })
  const open = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    await context.addInitScript((s) => { localStorage.setItem('orpheus.session', s) }, session)
    const page = await context.newPage()
    await page.goto(`${server.base}/scores/${score.id}`)
    await page.locator('[data-testid=roman]').first().waitFor({ timeout: 120000 })
    return page
  }
  const a = await open()
  const b = await open()
  const romanOf = (page, measure) => page.evaluate((m) => document.querySelector(`[data-testid=roman][data-measure="${m}"]`)?.textContent ?? null, measure)
  const times = []
  const arrived = []
  const analysed = []
  for (let i = 0; i < EDITS; i++) {
    const m = i % 4 // bars 1-4, on screen on both pages
    const measure = `m_bar${String(m).padStart(9, '0')}`
    const up = Math.floor(i / 4) % 2 === 0
    const before = await romanOf(b, measure)
    const waiting = b.evaluate(([m, before]) => new Promise((resolve) => {
      const check = () => {
        const t = document.querySelector(`[data-testid=roman][data-measure="${m}"]`)?.textContent ?? null
        if (t !== null && t !== before) resolve({ at: Date.now(), figure: t })
        else requestAnimationFrame(check)
      }
      check()
    }), [measure, before])
    const t0 = await a.evaluate(([m, up]) => {
      const o = window.__orpheus
      const ids = o.session.model.notesIn(m).map((n) => n.id)
      const t = Date.now()
      o.editor.transpose(ids, 'step', up ? 1 : -1)
      return t
    }, [measure, up])
    const shown = await Promise.race([waiting, new Promise((resolve) => setTimeout(() => resolve(null), 20000))])
    if (!shown) { console.log(`edit ${i}: bar ${m + 1} ${before} -> no change within 20 s`); continue }
    times.push(shown.at - t0)
    const got = await b.evaluate(() => window.__orpheusAnalysis)
    if (got) { arrived.push(got.at - t0); analysed.push(got.durationMs ?? 0) }
    await new Promise(r => setTimeout(r, 300))
  }
  console.log(`edit-to-overlay on another client, ${MEASURES} measures x 4 parts, ${times.length}/${EDITS} edits: p50 ${pct(times, 0.5)} ms, p99 ${pct(times, 0.99)} ms, max ${Math.max(...times)} ms`)
  console.log(`  of which: event received p50 ${pct(arrived, 0.5)} ms after the edit; analysis job (server, incremental) p50 ${Math.round(pct(analysed, 0.5))} ms; overlay drawn p50 ${pct(times.map((t, i) => t - (arrived[i] ?? t)), 0.5)} ms after the event`)
}
try { await main() } finally { await browser.close(); server.child.kill('SIGTERM'); rmSync(server.dataDir, { recursive: true, force: true }) }
