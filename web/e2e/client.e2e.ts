// The browser client against a real server: two people co-editing, a viewer, an upload,
// a version restore and undo that leaves a collaborator's notes alone.
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { ADMIN_PASSWORD, PASSWORD, Server, launch, newUserPage, shot } from './harness'
import { SMALL_MUSICXML } from './fixtures'

const server = new Server()
let browser: Browser
let admin: string
let aliceToken: string
let alice: Page
let bob: Page
let scoreId: string
const COLORS: Record<string, string> = {}

interface Doc {
  notes: Record<string, { measure: string; part: string; pitches?: string[] }>
  measures: { id: string }[]
  parts: { id: string }[]
}

async function docJson(id: string): Promise<Doc> {
  const r = await fetch(`${server.base}/api/scores/${id}/export?format=json`, {
    headers: { Authorization: `Bearer ${aliceToken}` },
  })
  if (!r.ok) throw new Error(`export: ${r.status} ${await r.text()}`)
  return (await r.json()) as Doc
}

/** Note ids the page has rendered (schema ids on `g.note`, `g.chord`, `g.rest`). */
async function renderedIds(page: Page): Promise<string[]> {
  return await page.$$eval(
    '[data-testid=score] g.note[id], [data-testid=score] g.chord[id], [data-testid=score] g.rest[id]',
    (els) => els.map((e) => e.id).filter((id) => /^n_/.test(id) && !id.includes('.')),
  )
}

async function openScore(page: Page, id: string): Promise<void> {
  await page.goto(`/scores/${id}`)
  await page.locator('[data-testid=score] svg').first().waitFor({ timeout: 30000 })
}

/** Click a bar of a staff (between its lines, as a musician would). */
async function clickCell(page: Page, svgStaffId: string): Promise<void> {
  const staff = page.locator(`[data-testid=score] g.staff[id="${svgStaffId}"]`)
  await staff.scrollIntoViewIfNeeded()
  const box = await staff.boundingBox()
  if (!box) throw new Error(`no staff ${svgStaffId}`)
  await page.mouse.click(box.x + Math.min(30, box.width / 3), box.y + box.height / 2)
}

async function localNoteIds(page: Page): Promise<string[]> {
  return await page.evaluate(() => {
    const o = window.__orpheus as {
      session: { model: { snapshot: { notes: Map<string, unknown> } } }
    }
    return [...o.session.model.snapshot.notes.keys()]
  })
}

beforeAll(async () => {
  await server.start()
  admin = await server.login('admin', ADMIN_PASSWORD)
  for (const [name, display] of [
    ['alice', 'Alice Liddell'],
    ['bob', 'Bob Dylan'],
    ['victor', 'Victor Viewer'],
  ]) {
    await server.api('/api/auth/register', admin, {
      method: 'POST',
      json: { username: name, password: PASSWORD, display_name: display },
    })
  }
  aliceToken = await server.login('alice', PASSWORD)
  const created = await server.api<{ id: string }>('/api/scores', aliceToken, {
    method: 'POST',
    json: {
      schema_version: 1,
      meta: { title: 'Duet', composer: '', schema_version: 1 },
      parts: [
        { id: 'p_flute0000001', name: 'Flute' },
        { id: 'p_cello0000001', name: 'Cello', clef: 'bass' },
      ],
      measures: [
        { id: 'm_bar000000001', time: '4/4' },
        { id: 'm_bar000000002' },
        { id: 'm_bar000000003' },
        { id: 'm_bar000000004', barline: 'final' },
      ],
      notes: {},
      comments: {},
      chat: [],
    },
  })
  scoreId = created.id
  await server.api(`/api/scores/${scoreId}/access/bob`, aliceToken, {
    method: 'PUT',
    json: { role: 'editor' },
  })
  await server.api(`/api/scores/${scoreId}/access/victor`, aliceToken, {
    method: 'PUT',
    json: { role: 'viewer' },
  })
  browser = await launch()
  ;({ page: alice } = await newUserPage(browser, server, 'alice', PASSWORD))
  ;({ page: bob } = await newUserPage(browser, server, 'bob', PASSWORD))
}, 120000)

afterAll(async () => {
  const { writeFileSync, mkdirSync } = await import('node:fs')
  mkdirSync('test-results', { recursive: true })
  writeFileSync('test-results/server.log', server.log)
  await browser?.close()
  await server.stop()
})

describe('browser client', () => {
  it('serves the library with the shared score', async () => {
    expect(await bob.getByTestId('score-row').filter({ hasText: 'Duet' }).count()).toBe(1)
    await shot(bob, '01-library')
  })

  it('two people: one types notes, the other sees them rendered and her colour on the selection', async () => {
    await openScore(alice, scoreId)
    await openScore(bob, scoreId)
    // Alice: quarter notes C D E F from the first bar of the flute.
    await clickCell(alice, 'm_bar000000001.s1')
    await alice.keyboard.press('5')
    for (const key of ['c', 'd', 'e', 'f']) await alice.keyboard.press(key)
    await alice.waitForFunction(
      () => document.querySelectorAll('[data-testid=score] g.note[id^="n_"]').length >= 4,
    )
    const aliceIds = await localNoteIds(alice)
    expect(aliceIds).toHaveLength(4)
    // Bob sees every one of them rendered, under its schema id.
    await bob.waitForFunction(
      (ids) => ids.every((id) => document.querySelector(`[data-testid=score] g[id="${id}"]`)),
      aliceIds,
    )
    expect((await renderedIds(bob)).sort()).toEqual([...aliceIds].sort())
    // Alice's last note is selected: Bob sees it in Alice's colour, and Alice in his list.
    const aliceColor = await alice.evaluate(
      () =>
        (
          window.__orpheus as {
            session: { awareness: { getLocalState: () => { user: { color: string } } } }
          }
        ).session.awareness.getLocalState().user.color,
    )
    COLORS.alice = aliceColor
    await bob.locator('[data-presence="Alice Liddell"]').waitFor()
    const selected = await alice.evaluate(
      () =>
        (
          window.__orpheus as {
            session: { awareness: { getLocalState: () => { selection: string[] } } }
          }
        ).session.awareness.getLocalState().selection,
    )
    expect(selected).toHaveLength(1)
    const fill = await bob.waitForFunction(
      ({ id, color }) => {
        const el = document.querySelector(`[data-testid=score] g[id="${id}"]`)
        if (!el) return null
        const fillColor = getComputedStyle(el).fill
        const hex = color.replace('#', '')
        const rgb = `rgb(${parseInt(hex.slice(0, 2), 16)}, ${parseInt(hex.slice(2, 4), 16)}, ${parseInt(hex.slice(4, 6), 16)})`
        return fillColor === rgb ? fillColor : null
      },
      { id: selected[0], color: aliceColor },
      { timeout: 10000 },
    )
    expect(await fill.jsonValue()).toBeTruthy()
    await shot(alice, '02-alice-typed')
    await shot(bob, '03-bob-sees-alice')
    // The server has exactly these notes, on schema.
    const doc = await docJson(scoreId)
    expect(Object.keys(doc.notes).sort()).toEqual([...aliceIds].sort())
    // C, D, E, F in the octave nearest the last note: C4 (first note near B4... C5), D, E, F rising.
    const pitches = Object.values(doc.notes)
      .map((n) => n.pitches?.[0] ?? '')
      .sort()
    expect(pitches.map((p) => p[0])).toEqual(['C', 'D', 'E', 'F'])
    const problems = await server.api<{ problems: { code: string; severity: string }[] }>(
      `/api/scores/${scoreId}/validation`,
      aliceToken,
    )
    expect(problems.problems.filter((p) => p.severity === 'error')).toEqual([])
  })

  it("undo in one context leaves the other one's notes alone", async () => {
    const before = new Set(await localNoteIds(bob))
    // Bob clicks the cello's second bar and enters two half notes.
    await clickCell(bob, 'm_bar000000002.s2')
    await bob.keyboard.press('6')
    await bob.keyboard.press('g')
    await bob.keyboard.press('a')
    await bob.waitForFunction(
      (n) =>
        (window.__orpheus as { session: { model: { snapshot: { notes: Map<string, unknown> } } } })
          .session.model.snapshot.notes.size >= n,
      before.size + 2,
    )
    const bobIds = (await localNoteIds(bob)).filter((id) => !before.has(id))
    expect(bobIds).toHaveLength(2)
    await alice.waitForFunction(
      (ids) => ids.every((id) => document.querySelector(`[data-testid=score] g[id="${id}"]`)),
      bobIds,
    )
    // Alice undoes: her own notes go, Bob's stay, for both of them.
    // (typing pauses longer than the undo manager's 300 ms grouping make several steps)
    for (let i = 0; i < 4; i++) await alice.keyboard.press('Control+z')
    await alice.waitForFunction((ids) => {
      const notes = (
        window.__orpheus as { session: { model: { snapshot: { notes: Map<string, unknown> } } } }
      ).session.model.snapshot.notes
      return notes.size === ids.length && ids.every((id) => notes.has(id))
    }, bobIds)
    await bob.waitForFunction((ids) => {
      const notes = (
        window.__orpheus as { session: { model: { snapshot: { notes: Map<string, unknown> } } } }
      ).session.model.snapshot.notes
      return notes.size === ids.length
    }, bobIds)
    expect((await renderedIds(bob)).sort()).toEqual([...bobIds].sort())
    expect(Object.keys((await docJson(scoreId)).notes).sort()).toEqual([...bobIds].sort())
    await shot(alice, '04-alice-undid')
    // Redo brings Alice's notes back.
    for (let i = 0; i < 4; i++) await alice.keyboard.press('Control+Shift+z')
    await bob.waitForFunction(
      (n) => document.querySelectorAll('[data-testid=score] g.note[id^="n_"]').length >= n,
      6,
    )
  })

  it('a viewer follows live but cannot change anything', async () => {
    const { page: victor, context } = await newUserPage(browser, server, 'victor', PASSWORD)
    await openScore(victor, scoreId)
    await victor.getByTestId('readonly-banner').waitFor()
    expect(await victor.getByRole('toolbar', { name: 'Editing' }).count()).toBe(0)
    expect(await victor.getByRole('button', { name: /Undo/ }).count()).toBe(0)
    const before = await docJson(scoreId)
    await victor
      .locator('[data-testid=score] svg')
      .first()
      .click({ position: { x: 200, y: 60 } })
    for (const key of ['c', 'd', '0', 'Delete', 'Control+z', 'Control+b'])
      await victor.keyboard.press(key)
    await victor.waitForTimeout(500)
    expect(Object.keys((await docJson(scoreId)).notes).sort()).toEqual(
      Object.keys(before.notes).sort(),
    )
    expect((await docJson(scoreId)).measures.length).toBe(before.measures.length)
    // ...and still sees Alice's next note appear.
    await alice.keyboard.press('b')
    await victor.waitForFunction(
      (n) => document.querySelectorAll('[data-testid=score] g.note[id^="n_"]').length > n,
      Object.keys(before.notes).length,
    )
    await shot(victor, '05-viewer')
    await context.close()
  })

  it('a MusicXML upload is rendered', async () => {
    await alice.goto('/')
    await alice.getByRole('button', { name: 'New score' }).waitFor()
    await alice.getByTestId('upload-input').setInputFiles({
      name: 'chorale.musicxml',
      mimeType: 'application/vnd.recordare.musicxml+xml',
      buffer: Buffer.from(SMALL_MUSICXML),
    })
    await alice.getByTestId('upload').filter({ hasText: 'Uploaded' }).waitFor({ timeout: 30000 })
    // A refused file shows the server's message.
    await alice.getByTestId('upload-input').setInputFiles({
      name: 'broken.musicxml',
      mimeType: 'application/vnd.recordare.musicxml+xml',
      buffer: Buffer.from('<score-partwise><part-list>'),
    })
    await alice.getByTestId('upload').filter({ hasText: 'Refused' }).waitFor({ timeout: 30000 })
    await shot(alice, '06-upload')
    await alice.getByTestId('score-row').filter({ hasText: 'Uploaded Chorale' }).click()
    await alice.locator('[data-testid=score] svg').first().waitFor()
    const id = alice.url().split('/').pop() ?? ''
    const doc = await docJson(id)
    const expected = Object.keys(doc.notes)
    expect(expected.length).toBeGreaterThanOrEqual(9)
    await alice.waitForFunction(
      (ids) => ids.every((i) => document.querySelector(`[data-testid=score] g[id="${i}"]`)),
      expected,
    )
    expect(await alice.locator('[data-testid=score] g.chord').count()).toBeGreaterThanOrEqual(1)
    expect(await alice.locator('[data-testid=score] g.tie').count()).toBeGreaterThanOrEqual(1)
    expect(
      await alice.locator('[data-testid=score] g.verse, [data-testid=score] g.syl').count(),
    ).toBeGreaterThanOrEqual(1)
    expect(await alice.locator('[data-testid=score] g.dynam').count()).toBeGreaterThanOrEqual(1)
    await shot(alice, '07-uploaded-score')
  })

  it('a version restore shows the old notes', async () => {
    await openScore(alice, scoreId)
    const kept = (await localNoteIds(alice)).sort()
    await alice.getByRole('button', { name: 'Versions & export' }).click()
    await alice.getByLabel('Version name').fill('Before the ending')
    await alice.getByRole('button', { name: 'Save' }).click()
    await alice.getByTestId('version').filter({ hasText: 'Before the ending' }).waitFor()
    // The engraved export of the current state downloads a PDF.
    const [pdf] = await Promise.all([
      alice.waitForEvent('download', { timeout: 60000 }),
      alice.getByRole('button', { name: 'Export current: PDF' }).click(),
    ])
    expect(pdf.suggestedFilename()).toMatch(/\.pdf$/)
    const pdfPath = await pdf.path()
    expect(readFileSync(pdfPath).subarray(0, 5).toString()).toBe('%PDF-')
    // New notes after the version: bar 3 of the flute.
    await clickCell(alice, 'm_bar000000003.s1')
    await alice.keyboard.press('7')
    await alice.keyboard.press('g')
    await alice.waitForFunction(
      (n) =>
        (window.__orpheus as { session: { model: { snapshot: { notes: Map<string, unknown> } } } })
          .session.model.snapshot.notes.size ===
        n + 1,
      kept.length,
    )
    await bob.waitForFunction(
      (n) =>
        (window.__orpheus as { session: { model: { snapshot: { notes: Map<string, unknown> } } } })
          .session.model.snapshot.notes.size ===
        n + 1,
      kept.length,
    )
    // Preview, then restore (with the confirmation).
    await alice
      .getByTestId('version')
      .filter({ hasText: 'Before the ending' })
      .getByRole('button', { name: 'Preview' })
      .click()
    await alice.getByTestId('version-preview').locator('svg').first().waitFor()
    await shot(alice, '08-version-preview')
    await alice.keyboard.press('Escape')
    await alice
      .getByTestId('version')
      .filter({ hasText: 'Before the ending' })
      .getByRole('button', { name: 'Restore…' })
      .click()
    await alice.getByRole('button', { name: 'Restore', exact: true }).click()
    await alice.waitForTimeout(1500)
    await shot(alice, '08b-after-restore-click')
    await alice.getByTestId('notice').waitFor({ timeout: 20000 })
    await alice.locator('[data-testid=score] svg').first().waitFor()
    await alice.waitForFunction((ids) => {
      const o = window.__orpheus as {
        session: { synced: boolean; model: { snapshot: { notes: Map<string, unknown> } } }
      }
      const have = [...o.session.model.snapshot.notes.keys()].sort()
      return o.session.synced && JSON.stringify(have) === JSON.stringify(ids)
    }, kept)
    await alice.waitForFunction(
      (ids) => ids.every((id) => document.querySelector(`[data-testid=score] g[id="${id}"]`)),
      kept,
    )
    // Bob's page reloads too and shows the old notes.
    await bob.getByTestId('notice').waitFor({ timeout: 20000 })
    await bob.waitForFunction(
      (ids) =>
        ids.every((id) => document.querySelector(`[data-testid=score] g[id="${id}"]`)) &&
        document.querySelectorAll('[data-testid=score] g.note[id^="n_"]').length ===
          ids.filter(Boolean).length,
      kept,
    )
    expect(Object.keys((await docJson(scoreId)).notes).sort()).toEqual(kept)
    await shot(alice, '09-restored')
    await shot(bob, '10-bob-after-restore')
  })

  it('the owner shares a view link that opens read-only without an account', async () => {
    await alice.getByRole('button', { name: 'Share' }).click()
    await alice.getByRole('dialog').getByText('bob').first().waitFor()
    await alice.getByRole('button', { name: 'New view link' }).click()
    const url = await alice.getByLabel('New link').inputValue()
    expect(url).toContain(`/scores/${scoreId}?link=`)
    await shot(alice, '12-share-dialog')
    await alice.keyboard.press('Escape')
    const guest = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await guest.newPage()
    await page.goto(url)
    await page.locator('[data-testid=score] svg').first().waitFor({ timeout: 30000 })
    await page.getByTestId('readonly-banner').waitFor()
    expect(await page.getByRole('toolbar', { name: 'Editing' }).count()).toBe(0)
    await shot(page, '13-view-link')
    await guest.close()
  })

  it('is readable at tablet width', async () => {
    await bob.setViewportSize({ width: 820, height: 1100 })
    await bob.waitForTimeout(300)
    await shot(bob, '11-tablet')
  })
})
