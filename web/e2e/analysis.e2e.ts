// Analysis overlays and playback against a real server: an edit by one user makes a
// Roman numeral appear under the lowest staff on another user's page (fed by the
// analysis events), voice-leading marks select their notes, overlays switch off, and
// playback starts and moves its playhead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { ADMIN_PASSWORD, PASSWORD, Server, launch, newUserPage, shot } from './harness'

const server = new Server()
let browser: Browser
let alice: Page
let bob: Page
let scoreId: string
const BAR1 = 'm_anbar0000001'

async function openScore(page: Page, id: string): Promise<void> {
  await page.goto(`/scores/${id}`)
  await page.locator('[data-testid=score] svg').first().waitFor({ timeout: 30000 })
}

/** Enter a chord through the page's own editor (as the keyboard does). */
async function enterChord(
  page: Page,
  measure: string,
  part: string,
  onset: string,
  pitches: string[],
  quarters: number,
): Promise<void> {
  await page.evaluate(
    ({ measure, part, onset, pitches, quarters }) => {
      const o = window.__orpheus as {
        editor: {
          enter: (
            at: { measure: string; part: string; staff: number; voice: number; onset: string },
            p: string[],
            v: { n: number; d: number },
          ) => unknown
        }
      }
      o.editor.enter({ measure, part, staff: 1, voice: 1, onset }, pitches, { n: quarters, d: 1 })
    },
    { measure, part, onset, pitches, quarters },
  )
}

beforeAll(async () => {
  await server.start()
  const admin = await server.login('admin', ADMIN_PASSWORD)
  for (const name of ['alice', 'bob']) {
    await server.api('/api/auth/register', admin, {
      method: 'POST',
      json: { username: name, password: PASSWORD, display_name: name },
    })
  }
  const token = await server.login('alice', PASSWORD)
  const created = await server.api<{ id: string }>('/api/scores', token, {
    method: 'POST',
    json: {
      schema_version: 1,
      meta: { title: 'Cadence', composer: '', schema_version: 1, tempo: { bpm: 120 } },
      parts: [
        { id: 'p_sopr00000001', name: 'Soprano' },
        { id: 'p_bass00000001', name: 'Bass', clef: 'bass' },
      ],
      measures: [
        { id: BAR1, time: '4/4' },
        { id: 'm_anbar0000002' },
        { id: 'm_anbar0000003', barline: 'final' },
      ],
      notes: {},
      comments: {},
      chat: [],
    },
  })
  scoreId = created.id
  await server.api(`/api/scores/${scoreId}/access/bob`, token, {
    method: 'PUT',
    json: { role: 'editor' },
  })
  browser = await launch()
  ;({ page: alice } = await newUserPage(browser, server, 'alice', PASSWORD))
  ;({ page: bob } = await newUserPage(browser, server, 'bob', PASSWORD))
  await openScore(alice, scoreId)
  await openScore(bob, scoreId)
}, 120000)

afterAll(async () => {
  const { writeFileSync, mkdirSync } = await import('node:fs')
  mkdirSync('test-results', { recursive: true })
  writeFileSync('test-results/analysis-server.log', server.log)
  await browser?.close()
  await server.stop()
})

describe('analysis overlays and playback', () => {
  it("an edit makes a Roman numeral appear under the lowest staff on another user's page", async () => {
    // I - V - I with parallel fifths into the last chord (soprano G-D over bass C-G).
    await enterChord(alice, BAR1, 'p_sopr00000001', '0', ['E4', 'G4'], 4)
    await enterChord(alice, BAR1, 'p_bass00000001', '0', ['C3'], 4)
    await enterChord(alice, 'm_anbar0000002', 'p_sopr00000001', '0', ['D4', 'G4'], 4)
    await enterChord(alice, 'm_anbar0000002', 'p_bass00000001', '0', ['G2', 'B2'], 4)
    await enterChord(alice, 'm_anbar0000003', 'p_sopr00000001', '0', ['E4', 'C5'], 4)
    await enterChord(alice, 'm_anbar0000003', 'p_bass00000001', '0', ['C3'], 4)
    const roman = bob.locator(`[data-testid=roman][data-measure="${BAR1}"]`)
    // (a first result may describe the chords entered so far: wait for the whole edit's)
    await expect
      .poll(async () => await roman.first().textContent({ timeout: 30000 }), { timeout: 30000 })
      .toBe('I')
    // Under the lowest staff of that bar, at its first note.
    const staff = await bob.locator(`g.staff[id="${BAR1}.s2"]`).boundingBox()
    const label = await roman.first().boundingBox()
    expect(staff && label).toBeTruthy()
    if (staff && label) {
      expect(label.y).toBeGreaterThan(staff.y + staff.height - 2)
      expect(label.y).toBeLessThan(staff.y + staff.height + 40)
      expect(label.x).toBeGreaterThan(staff.x)
    }
    await bob.getByRole('button', { name: 'Analysis', exact: true }).click()
    await bob.locator('[data-testid=contour]').first().waitFor()
    await bob.locator('[data-testid=key-span]').first().waitFor()
    await shot(bob, 'analysis-overlays')
  })

  it('a voice-leading mark selects its notes', async () => {
    const issue = alice.locator('[data-testid=vl-issue]').first()
    await issue.waitFor({ timeout: 30000 })
    await issue.locator('line').first().click({ force: true })
    await expect
      .poll(async () => await alice.getByText(/\d+ selected/).textContent())
      .toBe('4 selected')
  })

  it('an edit changes the figure on the other page', async () => {
    const roman = bob.locator('[data-testid=roman][data-measure="m_anbar0000002"]')
    expect(await roman.first().textContent()).toBe('V')
    // Bar 2 becomes an F major chord: the other page's figure follows.
    await alice.evaluate(() => {
      const o = window.__orpheus as {
        session: { model: { notesIn: (m: string) => { id: string }[] } }
        editor: { remove: (ids: string[]) => void }
      }
      o.editor.remove(o.session.model.notesIn('m_anbar0000002').map((n) => n.id))
    })
    await enterChord(alice, 'm_anbar0000002', 'p_sopr00000001', '0', ['F4', 'A4'], 4)
    await enterChord(alice, 'm_anbar0000002', 'p_bass00000001', '0', ['F2'], 4)
    await expect
      .poll(async () => await roman.first().textContent(), { timeout: 30000 })
      .toMatch(/^(IV|I)$/)
  })

  it('overlays switch off and on', async () => {
    const romans = bob.locator('[data-testid=roman]')
    expect(await romans.count()).toBeGreaterThan(0)
    await bob.getByLabel('Roman numerals').uncheck()
    expect(await romans.count()).toBe(0)
    await bob.getByLabel('Roman numerals').check()
    await romans.first().waitFor()
  })

  it('play starts and the playhead advances across the notes', async () => {
    await alice.keyboard.press('Escape')
    await alice.getByRole('button', { name: /^Play/ }).click()
    const head = alice.locator('[data-testid=playhead]')
    await head.waitFor({ timeout: 10000 })
    const first = Number(await head.getAttribute('data-seconds'))
    const x0 = Number(await head.getAttribute('data-x'))
    await alice.waitForTimeout(1200)
    const later = Number(await head.getAttribute('data-seconds'))
    const x1 = Number(await head.getAttribute('data-x'))
    expect(later).toBeGreaterThan(first + 0.5)
    expect(x1).toBeGreaterThan(x0)
    await shot(alice, 'playback-playhead')
    await alice.getByRole('button', { name: 'Stop' }).click()
    await head.waitFor({ state: 'detached' })
  })
})
