// Chat, suggestions and comments against a real server: Alice asks aureon in the chat to
// harmonise four bars, sees the suggestion drawn and accepts it (one bar by keyboard, the
// rest by mouse), and Bob gets the notes; a comment round trip between the two.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { ADMIN_PASSWORD, PASSWORD, Server, launch, newUserPage, shot } from './harness'

const server = new Server()
let browser: Browser
let aliceToken: string
let alice: Page
let bob: Page
let scoreId: string

const PARTS = ['p_soprano00001', 'p_alto00000001', 'p_tenor0000001', 'p_bass00000001']
const BARS = ['m_bar000000001', 'm_bar000000002', 'm_bar000000003', 'm_bar000000004']
const MELODY = [
  ['G4', 'A4', 'B4', 'G4'],
  ['C5', 'B4', 'A4', 'A4'],
  ['B4', 'C5', 'D5', 'B4'],
  ['A4', 'A4', 'G4'],
]

function chorale(): Record<string, unknown> {
  const notes: Record<string, unknown> = {}
  MELODY.forEach((bar, b) => {
    let onset = 0
    bar.forEach((pitch, i) => {
      const duration = bar.length === 3 && i === 2 ? 2 : 1
      notes[`n_mxy${b}${i}0000000`.slice(0, 14)] = {
        measure: BARS[b],
        part: PARTS[0],
        onset: String(onset),
        duration: String(duration),
        pitches: [pitch],
      }
      onset += duration
    })
  })
  return {
    schema_version: 1,
    meta: { title: 'Chorale', composer: '', schema_version: 1 },
    parts: [
      { id: PARTS[0], name: 'Soprano' },
      { id: PARTS[1], name: 'Alto' },
      { id: PARTS[2], name: 'Tenor', clef: 'treble8vb' },
      { id: PARTS[3], name: 'Bass', clef: 'bass' },
    ],
    measures: BARS.map((id, i) =>
      i === 0
        ? { id, time: '4/4', key: { fifths: 1, mode: 'major' } }
        : i === 3
          ? { id, barline: 'final' }
          : { id },
    ),
    notes,
    comments: {},
    chat: [],
  }
}

interface Doc {
  notes: Record<string, { measure: string; part: string; pitches?: string[] }>
}

async function docJson(): Promise<Doc> {
  const r = await fetch(`${server.base}/api/scores/${scoreId}/export?format=json`, {
    headers: { Authorization: `Bearer ${aliceToken}` },
  })
  return (await r.json()) as Doc
}

async function openScore(page: Page): Promise<void> {
  await page.goto(`/scores/${scoreId}`)
  await page.locator('[data-testid=score] svg').first().waitFor({ timeout: 30000 })
}

async function noteCount(page: Page): Promise<number> {
  return await page.evaluate(() => {
    const o = window.__orpheus as {
      session: { model: { snapshot: { notes: Map<string, unknown> } } }
    }
    return o.session.model.snapshot.notes.size
  })
}

beforeAll(async () => {
  await server.start()
  const admin = await server.login('admin', ADMIN_PASSWORD)
  for (const [name, display] of [
    ['alice', 'Alice Liddell'],
    ['bob', 'Bob Dylan'],
  ]) {
    await server.api('/api/auth/register', admin, {
      method: 'POST',
      json: { username: name, password: PASSWORD, display_name: display },
    })
  }
  aliceToken = await server.login('alice', PASSWORD)
  scoreId = (
    await server.api<{ id: string }>('/api/scores', aliceToken, { method: 'POST', json: chorale() })
  ).id
  await server.api(`/api/scores/${scoreId}/access/bob`, aliceToken, {
    method: 'PUT',
    json: { role: 'editor' },
  })
  browser = await launch()
  ;({ page: alice } = await newUserPage(browser, server, 'alice', PASSWORD))
  ;({ page: bob } = await newUserPage(browser, server, 'bob', PASSWORD))
  await openScore(alice)
  await openScore(bob)
}, 120000)

afterAll(async () => {
  const { writeFileSync, mkdirSync } = await import('node:fs')
  mkdirSync('test-results', { recursive: true })
  writeFileSync('test-results/collab-server.log', server.log)
  await browser?.close()
  await server.stop()
})

describe('chat, suggestions and comments', () => {
  it('asks aureon in the chat, sees the suggestion drawn, accepts it; Bob gets the notes', async () => {
    await alice.getByRole('button', { name: 'Chat' }).click()
    const box = alice.getByLabel('Chat message')
    await box.click()
    await box.pressSequentially('@au')
    // @mention completion of the personas
    const option = alice.getByRole('option', { name: /@aureon/ })
    await option.waitFor()
    await shot(alice, 'collab-01-mention-completion')
    await box.press('Tab')
    expect(await box.inputValue()).toBe('@aureon ')
    await box.pressSequentially('harmonise bars 1-4')
    await box.press('Enter')
    await alice.getByText('@aureon harmonise bars 1-4').first().waitFor()
    // Bob reads the message in his chat too.
    await bob.getByRole('button', { name: 'Chat' }).click()
    await bob.getByText('@aureon harmonise bars 1-4').first().waitFor()

    // The agent's task shows with its progress; the suggestion is drawn as ghost notes.
    await alice.getByTestId('task').first().waitFor({ timeout: 30000 })
    await alice.getByTestId('ghost-note').first().waitFor({ timeout: 60000 })
    await alice.waitForFunction(
      () => document.querySelectorAll('[data-ghost-cell]').length >= 12,
      undefined,
      { timeout: 60000 },
    )
    await alice.getByRole('button', { name: /^Suggestions \(4\)/ }).waitFor({ timeout: 60000 })
    await bob
      .getByTestId('presence')
      .getByLabel(/Aureon, agent/)
      .waitFor()
    const ghosts = await alice.getByTestId('ghost-note').count()
    expect(ghosts).toBeGreaterThanOrEqual(12 * 3) // three voices, at least 3 chords a bar
    await shot(alice, 'collab-02-suggestion-drawn')

    // Review: reason and rule report; bar 1 accepted by keyboard, the rest by mouse.
    await alice.getByRole('button', { name: /^Suggestions/ }).click()
    const panel = alice.getByTestId('suggestions')
    await panel
      .getByText(/Aureon/)
      .first()
      .waitFor()
    await panel
      .getByLabel('Rule report')
      .getByText(/parallel 5ths 0/)
      .waitFor()
    await shot(alice, 'collab-03-review-panel')
    const before = await noteCount(bob)
    expect(before).toBe(15)
    await panel.getByLabel('Bar 1').focus()
    await alice.keyboard.press('Enter')
    await panel.getByLabel('Bar 1').waitFor({ state: 'detached' })
    await bob.waitForFunction(() => {
      const o = window.__orpheus as {
        session: { model: { snapshot: { notes: Map<string, { measure: string }> } } }
      }
      return (
        [...o.session.model.snapshot.notes.values()].filter((n) => n.measure === 'm_bar000000001')
          .length > 4
      )
    })
    await shot(bob, 'collab-04-bob-bar1-applied')
    await panel.getByRole('button', { name: 'Accept all' }).click()
    try {
      await panel.getByText('No suggestions waiting for review.').waitFor({ timeout: 30000 })
    } catch (e) {
      await shot(alice, 'collab-fail-accept-all')
      throw e
    }
    // The server applied them: every bar has all four voices, and Bob has every note.
    const deadline = Date.now() + 30000
    let doc = await docJson()
    const full = (d: Doc) =>
      BARS.every((m) =>
        PARTS.every((p) => Object.values(d.notes).some((n) => n.measure === m && n.part === p)),
      )
    while (!full(doc) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200))
      doc = await docJson()
    }
    expect(full(doc)).toBe(true)
    const total = Object.keys(doc.notes).length
    expect(total).toBeGreaterThan(15 + 3 * 11)
    await bob.waitForFunction(
      (n) =>
        (window.__orpheus as { session: { model: { snapshot: { notes: Map<string, unknown> } } } })
          .session.model.snapshot.notes.size === n,
      total,
    )
    await bob.waitForFunction(
      () => document.querySelectorAll('[data-testid=score] g.note[id^="n_"]').length > 30,
    )
    expect(await alice.getByTestId('ghost-note').count()).toBe(0)
    await shot(alice, 'collab-05-alice-accepted')
    await shot(bob, 'collab-06-bob-sees-harmony')
  })

  it('a comment round trip: Alice comments on a note, Bob replies, Alice resolves', async () => {
    // The agent left a comment with its reason on bar 1 when it offered its result.
    const marker = bob.locator('[data-testid=comment-marker][data-measure="m_bar000000001"]')
    await marker.waitFor({ timeout: 15000 })
    expect(await marker.textContent()).toBe('1')
    // Alice selects the first soprano note and comments on it.
    const note = alice.locator('[data-testid=score] g.note[id="n_mxy000000000"] g.notehead')
    const box = await note.boundingBox()
    if (!box) throw new Error('the first note is not rendered')
    await alice.mouse.click(box.x + box.width / 2, box.y + box.height / 2)
    await alice.getByRole('button', { name: /^Comments/ }).click()
    const comments = alice.getByTestId('comments')
    await comments.getByText(/Comment on bar 1 \(the selected note\)/).waitFor()
    await comments.getByRole('textbox').first().fill('Can the alto move by step here?')
    await comments.getByRole('button', { name: 'Add comment' }).click()
    await comments.getByText('Can the alto move by step here?').waitFor()

    // Bob sees the marker on bar 1 count two threads, opens it and replies.
    await bob.waitForFunction(
      () =>
        document.querySelector('[data-testid=comment-marker][data-measure="m_bar000000001"]')
          ?.textContent === '2',
    )
    await shot(bob, 'collab-07-bob-comment-marker')
    await marker.click()
    const bobPanel = bob.getByTestId('comments')
    const thread = bobPanel.getByRole('listitem').filter({ hasText: 'Can the alto move by step' })
    await thread.waitFor()
    expect(await thread.getByText('beat 1').count()).toBe(1)
    await thread.getByLabel('Reply').fill('Yes: E4 to D4.')
    await thread.getByRole('button', { name: 'Reply' }).click()

    // Alice gets the reply in the thread, then resolves it; Bob's marker counts one again.
    const aliceThread = comments
      .getByRole('listitem')
      .filter({ hasText: 'Can the alto move by step' })
    await aliceThread.getByText('Yes: E4 to D4.').waitFor()
    await shot(alice, 'collab-08-alice-thread')
    await aliceThread.getByRole('button', { name: 'Resolve' }).click()
    await bob.waitForFunction(
      () =>
        document.querySelector('[data-testid=comment-marker][data-measure="m_bar000000001"]')
          ?.textContent === '1',
    )
    await thread.waitFor({ state: 'detached' })
    const stored = (await docJson()) as Doc & {
      comments: Record<
        string,
        { text: string; reply_to?: string; resolved: boolean; onset?: string; part?: string }
      >
    }
    const values = Object.entries(stored.comments)
    const root = values.find(([, c]) => c.text === 'Can the alto move by step here?')
    expect(root?.[1]).toMatchObject({ resolved: true, onset: '0', part: PARTS[0] })
    expect(values.find(([, c]) => c.reply_to === root?.[0])?.[1].text).toBe('Yes: E4 to D4.')
    await shot(bob, 'collab-09-bob-resolved')
  })

  it("undoes an agent's task from its card: its suggestions are withdrawn for everyone", async () => {
    const other = (
      await server.api<{ id: string }>('/api/scores', aliceToken, {
        method: 'POST',
        json: chorale(),
      })
    ).id
    for (const page of [alice]) {
      await page.goto(`/scores/${other}`)
      await page.locator('[data-testid=score] svg').first().waitFor({ timeout: 30000 })
    }
    await alice.getByRole('button', { name: 'Chat' }).click()
    const box = alice.getByLabel('Chat message')
    await box.fill('@aureon harmonise bars 1-2')
    await box.press('Enter')
    const card = alice.getByTestId('task').first()
    await card.waitFor({ timeout: 30000 })
    await alice.waitForFunction(
      () => document.querySelectorAll('[data-ghost-cell]').length === 6,
      undefined,
      { timeout: 60000 },
    )
    await card.getByRole('button', { name: 'Undo' }).waitFor({ timeout: 30000 })
    await shot(alice, 'collab-10-task-done')
    await card.getByRole('button', { name: 'Undo' }).click()
    await alice.waitForFunction(() => document.querySelectorAll('[data-ghost-cell]').length === 0)
    await alice.locator('[data-testid=task][data-status=undone]').waitFor()
    // Nothing is left to review: the agent leaves the score.
    await alice
      .getByTestId('presence')
      .getByLabel(/Aureon, agent/)
      .waitFor({ state: 'detached', timeout: 10000 })
    const r = await fetch(`${server.base}/api/scores/${other}/export?format=json`, {
      headers: { Authorization: `Bearer ${aliceToken}` },
    })
    expect(Object.keys(((await r.json()) as Doc).notes)).toHaveLength(15)
    await shot(alice, 'collab-11-task-undone')
  })
})
