// Render benchmark of the browser client, in Chromium (playwright-core, Debian's
// chromium), on Beethoven op. 59 no. 2, first movement (music21's corpus: 261 measures,
// 4 parts), uploaded to a real `orpheus serve`.
//
//   node bench/web/render.mjs [--runs 5] [--edits 40]
//
// Prints, for the shipped client (Verovio, one engraving per system, only systems on
// screen): first render (navigation to the first system on screen, cold cache) and a
// remote edit on screen (update received -> element in the DOM -> next frame), p50/p95.
// For comparison, the whole movement at once in the same Chromium with Verovio
// (renderData + every page) and OpenSheetMusicDisplay 2.1 (load + render, which is also
// what OSMD costs per change, as it redraws the whole sheet).
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const requireWeb = createRequire(join(repo, 'web', 'package.json'))
const { chromium } = requireWeb('playwright-core')
const arg = (name, fallback) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : fallback }
const RUNS = arg('--runs', 5)
const EDITS = arg('--edits', 40)
const ONLY_CLIENT = process.argv.includes('--client-only')
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const PASSWORD = 'bench-admin-password-0'

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] }
const fmt = (x) => `${Math.round(x)} ms`

async function freePort () {
  return await new Promise((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) }) })
}

async function startServer () {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), 'orpheus-bench-web-'))
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

const corpusFile = execFileSync('python3', ['-c', "import music21; print(music21.corpus.getWork('beethoven/opus59no2', 1))"], { encoding: 'utf8' }).trim()
const server = await startServer()
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ARGS })
async function main () {
  const login = await (await fetch(server.base + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: PASSWORD }) })).json()
  const auth = { Authorization: `Bearer ${login.access_token}` }
  const form = new FormData()
  form.append('file', new Blob([readFileSync(corpusFile)]), 'opus59no2-1.mxl')
  const score = await (await fetch(server.base + '/api/scores', { method: 'POST', headers: auth, body: form })).json()
  const doc = await (await fetch(`${server.base}/api/scores/${score.id}/export?format=json`, { headers: auth })).json()
  const musicxml = await (await fetch(`${server.base}/api/scores/${score.id}/export?format=musicxml`, { headers: auth })).text()
  console.log(`score: ${corpusFile.split('/').slice(-3).join('/')}: ${doc.measures.length} measures, ${doc.parts.length} parts, ${Object.keys(doc.notes).length} notes`)

  const session = JSON.stringify({ token: login.access_token, user: login.user, expiresAt: Date.now() + 3600e3 })
  async function openPage (context) {
    await context.addInitScript((s) => { localStorage.setItem('orpheus.session', s) }, session)
    const page = await context.newPage()
    await page.goto(`${server.base}/scores/${score.id}`)
    await page.waitForFunction(() => window.__orpheusPerf?.firstSystemMs > 0, null, { timeout: 60000 })
    return page
  }

  // 1. First render, cold (a new browser context: empty HTTP cache) -----------------------
  const first = []
  const engraveFirst = []
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await openPage(context)
    const p = await page.evaluate(() => window.__orpheusPerf)
    first.push(p.firstSystemMs)
    engraveFirst.push(p.render.totalMs / Math.max(1, p.render.engraved))
    await context.close()
  }

  // 2. Remote edits: page B writes, page A (the measured one) draws -------------------------
  console.log('first render runs (ms):', first.map(Math.round).join(' '))
  const ctxA = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const ctxB = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const pageA = await openPage(ctxA)
  const pageB = await openPage(ctxB)
  const measureId = doc.measures[1].id
  const partId = doc.parts[0].id
  const latencies = []
  const engraveEdit = []
  const systemsRedrawn = []
  for (let i = 0; i < EDITS; i++) {
    const id = `n_bench${String(i).padStart(7, '0')}`
    const add = i % 2 === 0
    const target = add ? id : `n_bench${String(i - 1).padStart(7, '0')}`
    const before = await pageA.evaluate(() => window.__orpheusPerf.render.engraved)
    const wait = pageA.evaluate(({ target, add }) => new Promise((resolve) => {
      const done = () => requestAnimationFrame(() => resolve(performance.now() - window.__orpheus.session.lastRemoteUpdate))
      const present = () => !!document.querySelector(`g[id="${target}"]`)
      if (present() === add) return done()
      const obs = new MutationObserver(() => { if (present() === add) { obs.disconnect(); done() } })
      obs.observe(document.body, { childList: true, subtree: true })
    }), { target, add })
    await pageB.evaluate(({ id, target, add, measureId, partId }) => {
      const s = window.__orpheus.session
      s.transact(() => {
        if (add) s.model.roots.notes.set(id, { measure: measureId, part: partId, onset: '0', duration: '1/2', pitches: ['C6'], voice: 2 })
        else s.model.roots.notes.delete(target)
      })
    }, { id, target, add, measureId, partId })
    latencies.push(await wait)
    engraveEdit.push(await pageA.evaluate(() => window.__orpheusPerf.render.lastMs))
    systemsRedrawn.push(await pageA.evaluate(() => window.__orpheusPerf.render.engraved) - before)
  }
  await ctxA.close()
  await ctxB.close()
  console.log('\nOrpheus client (Verovio per system, visible systems only), Chromium, 1280x900:')
  console.log(`  first render, navigation to first system on screen (cold, ${RUNS} runs): p50 ${fmt(pct(first, 0.5))}, max ${fmt(Math.max(...first))}`)
  console.log(`  engraving one system (4 staves): mean ${fmt(engraveFirst.reduce((a, b) => a + b, 0) / engraveFirst.length)}`)
  console.log(`  remote edit on screen (${EDITS} edits, add/delete alternately): p50 ${fmt(pct(latencies, 0.5))}, p95 ${fmt(pct(latencies, 0.95))}, max ${fmt(Math.max(...latencies))}`)
  console.log(`  of which Verovio engraving the changed system: p50 ${fmt(pct(engraveEdit, 0.5))}`)
  console.log(`  systems re-engraved per edit: ${[...new Set(systemsRedrawn)].sort().join(', ')}`)

  // 3. The whole movement at once: Verovio (stock toolkit) and OpenSheetMusicDisplay -------
  if (ONLY_CLIENT) return
  const launchOther = () => chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true, args: ARGS })
  // Verovio: the client's own toolkit (same wasm), the whole MusicXML at once.
  const vctx = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const vpage = await openPage(vctx)
  await vpage.waitForFunction(() => window.__orpheusToolkit, null, { timeout: 60000 })
  const verovioWhole = await vpage.evaluate(async (xml) => {
    const tk = window.__orpheusToolkit
    tk.setOptions({ breaks: 'auto', pageWidth: 2100, pageHeight: 2970, scale: 40, adjustPageHeight: false, header: 'none', footer: 'none' })
    const t1 = performance.now()
    tk.loadData(xml)
    const pages = tk.getPageCount()
    let first = 0
    const out = document.createElement('div')
    document.body.appendChild(out)
    for (let p = 1; p <= pages; p++) {
      out.innerHTML = tk.renderToSVG(p)
      if (p === 1) first = performance.now() - t1
    }
    return { init: 0, first, all: performance.now() - t1, pages }
  }, musicxml).catch((e) => ({ error: String(e).split('\n')[0] }))
  await vctx.close()

  const obrowser = await launchOther()
  const opage = await obrowser.newPage({ viewport: { width: 1280, height: 900 } })
  opage.setDefaultTimeout(300000)
  await opage.setContent('<html><body><div id="osmd" style="width:1260px"></div></body></html>')
  await opage.addScriptTag({ path: requireWeb.resolve('opensheetmusicdisplay/build/opensheetmusicdisplay.min.js') })
  const osmd = await opage.evaluate(async (xml) => {
    const o = new window.opensheetmusicdisplay.OpenSheetMusicDisplay('osmd', { autoResize: false, backend: 'svg', drawTitle: false })
    const t0 = performance.now()
    await Promise.race([o.load(xml), new Promise((_, no) => setTimeout(() => no(new Error('load over 240 s')), 240000))])
    const load = performance.now() - t0
    const t1 = performance.now()
    o.render()
    const render = performance.now() - t1
    const t2 = performance.now()
    o.render() // what a change costs: OSMD redraws the whole sheet
    const rerender = performance.now() - t2
    const ids = [...document.querySelectorAll('#osmd g.vf-stavenote')].slice(0, 3).map(e => e.id)
    return { load, render, rerender, ids }
  }, musicxml).catch((e) => ({ error: String(e).split('\n')[0] }))
  await obrowser.close().catch(() => {})

  console.log('\nWhole movement at once, same Chromium (a fresh browser each):')
  if (verovioWhole.error) console.log(`  Verovio 6.3 toolkit: ${verovioWhole.error}`)
  else console.log(`  Verovio 6.3 (the client's toolkit): MusicXML load + page 1 ${fmt(verovioWhole.first)}, all ${verovioWhole.pages} pages ${fmt(verovioWhole.all)}`)
  if (osmd.error) console.log(`  OpenSheetMusicDisplay 2.1: ${osmd.error}`)
  else console.log(`  OpenSheetMusicDisplay 2.1: load ${fmt(osmd.load)}, render ${fmt(osmd.render)}, re-render after a change ${fmt(osmd.rerender)}; note ids: ${osmd.ids.join(', ') || '(none)'}`)
}
try {
  await main()
} finally {
  await browser.close()
  server.child.kill('SIGTERM')
  await new Promise(r => setTimeout(r, 1000))
  rmSync(server.dataDir, { recursive: true, force: true })
}
