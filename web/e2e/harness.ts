// End-to-end harness: a real `orpheus serve` child process on a temporary data directory
// and a free port, and Debian's Chromium driven by playwright-core (never a downloaded
// browser). Screenshots go to web/test-results/ (kept as CI artifacts, not committed).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

export const ADMIN_PASSWORD = 'e2e-admin-password-0'
export const PASSWORD = 'e2e-user-password-0'
export const REPO = resolve(import.meta.dirname, '..', '..')
export const RESULTS = resolve(import.meta.dirname, '..', 'test-results')
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer()
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address ? address.port : 0
      srv.close(() => ok(port))
    })
    srv.on('error', fail)
  })
}

export class Server {
  process: ChildProcess | null = null
  dataDir = mkdtempSync(join(tmpdir(), 'orpheus-e2e-'))
  port = 0
  log = ''
  get base(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    this.port = await freePort()
    const python = process.env.ORPHEUS_PYTHON ?? 'python3'
    this.process = spawn(
      python,
      ['-m', 'collab_server.cli', 'serve', '--port', String(this.port), '--data-dir', this.dataDir],
      {
        cwd: REPO,
        env: {
          ...process.env,
          ORPHEUS_ADMIN_PASSWORD: ADMIN_PASSWORD,
          ORPHEUS_LOGIN_RATE_PER_IP: '0',
          ORPHEUS_REST_RATE_PER_IP: '0',
          ORPHEUS_LOG_JSON: '0',
          PYTHONUNBUFFERED: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    this.process.stdout?.on('data', (d: Buffer) => {
      this.log += d.toString()
    })
    this.process.stderr?.on('data', (d: Buffer) => {
      this.log += d.toString()
    })
    const deadline = Date.now() + 60000
    while (Date.now() < deadline) {
      if (this.process.exitCode !== null) throw new Error(`orpheus serve exited: ${this.log}`)
      try {
        if ((await fetch(`${this.base}/readyz`)).ok) return
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 150))
    }
    throw new Error(`orpheus serve did not start: ${this.log}`)
  }

  async stop(): Promise<void> {
    if (this.process && this.process.exitCode === null) {
      this.process.kill('SIGTERM')
      await new Promise((r) => {
        const t = setTimeout(() => {
          this.process?.kill('SIGKILL')
          r(null)
        }, 10000)
        this.process?.once('exit', () => {
          clearTimeout(t)
          r(null)
        })
      })
    }
    rmSync(this.dataDir, { recursive: true, force: true })
  }

  async api<T>(
    path: string,
    token: string | null,
    init: { method?: string; json?: unknown } = {},
  ): Promise<T> {
    const headers: Record<string, string> = {}
    if (token) headers.Authorization = `Bearer ${token}`
    if (init.json !== undefined) headers['Content-Type'] = 'application/json'
    const r = await fetch(this.base + path, {
      method: init.method ?? 'GET',
      headers,
      ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
    })
    if (!r.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${r.status} ${await r.text()}`)
    if (r.status === 204) return undefined as T
    return (await r.json()) as T
  }

  async login(username: string, password: string): Promise<string> {
    const r = await this.api<{ access_token: string }>('/api/auth/login', null, {
      method: 'POST',
      json: { username, password },
    })
    return r.access_token
  }
}

export function ensureChromium(): string {
  if (!existsSync(CHROMIUM)) {
    // Debian's Chromium (a test tool's own browser download does not work here).
    execFileSync(
      'sh',
      ['-c', 'apt-get install -y chromium || (apt-get update && apt-get install -y chromium)'],
      { stdio: 'inherit' },
    )
  }
  return CHROMIUM
}

/** Chromium, headless, no sandbox (containers), no GPU, no network chatter. Each launch
 * gets a fresh profile: playwright-core makes a new temporary user-data-dir per launch
 * (it refuses a --user-data-dir argument to launch()). */
export async function launch(): Promise<Browser> {
  return await chromium.launch({
    executablePath: ensureChromium(),
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

export async function newUserPage(
  browser: Browser,
  server: Server,
  username: string,
  password: string,
  viewport = { width: 1280, height: 900 },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport, baseURL: server.base })
  const page = await context.newPage()
  page.on('pageerror', (e) => {
    console.error(`[${username}] page error`, e)
  })
  await page.goto('/')
  await page.getByLabel('User name').fill(username)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('button', { name: 'New score' }).waitFor()
  return { context, page }
}

export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(RESULTS, { recursive: true })
  const path = join(RESULTS, `${name}.png`)
  await page.screenshot({ path, fullPage: false })
  return path
}
