// A heavy user's history: more chats than one page of the list (the sidebar and /history read 200
// at a time and offer the older ones), more search hits than one page, a conversation longer than
// one response of the REST API may hold (1,000 rows), and (the user is an admin) more users than
// one page of the admin's list: every chat, hit and user reachable, the conversation opened whole
// at its newest turn.
//
// Env: see harness.mjs, and E2E_USERS ({heavy: {email, password}, long, sessions, turns, oldest,
// crowd, crowdSize}, made by tests/e2e/test_long_history.py, which writes the history straight
// into the database).
import { STEP_MS, WEB_URL, expectText, journey, login, pause, shot, step, tid } from './harness.mjs'

const users = JSON.parse(process.env.E2E_USERS ?? '{}')

/** Wait until `locator` matches `n` elements; their count. */
async function count(locator, n) {
  const deadline = Date.now() + STEP_MS
  let seen = await locator.count()
  while (seen !== n && Date.now() < deadline) {
    await pause(50)
    seen = await locator.count()
  }
  if (seen !== n) throw new Error(`expected ${n}, found ${seen}`)
  return seen
}

await journey(async ({ newPage }) => {
  const page = await newPage('heavy')

  await step('the sidebar lists 200 chats and the older ones on asking', async () => {
    await login(page, users.heavy)
    const rows = page.locator(`${tid('session-list')} ${tid('session-item')}`)
    const first = await count(rows, 200)
    await page.locator(`${tid('session-list')} ${tid('sessions-more')}`).scrollIntoViewIfNeeded()
    await shot(page, '01-sidebar-more')
    await page.locator(`${tid('session-list')} ${tid('sessions-more')}`).click()
    const all = await count(rows, users.sessions)
    if (await page.locator(`${tid('session-list')} ${tid('sessions-more')}`).count()) throw new Error('"more" offered with nothing left')
    const oldest = ((await rows.last().textContent()) ?? '').trim()
    return { first, all, oldest }
  })

  await step('/history lists the older chats on asking', async () => {
    await page.goto(`${WEB_URL}/history`) // a fresh page: the list starts again at its first page
    const rows = page.locator(tid('history-session'))
    const first = await count(rows, 200)
    await page.locator(tid('sessions-more')).click()
    const all = await count(rows, users.sessions)
    return { first, all }
  })

  await step('search reads 50 hits at a time and names a chat the list has not read', async () => {
    await page.goto(`${WEB_URL}/history`) // the list holds the newest 200: not the oldest chat
    await count(page.locator(tid('history-session')), 200)
    const hits = page.locator(tid('search-hit'))
    await page.locator(tid('search-input')).fill('needle')
    await page.locator(tid('search-submit')).click()
    await count(hits, 1)
    const needle = await expectText(hits.first().locator(tid('search-hit-chat')), new RegExp(`^${users.oldest}$`))
    await shot(page, '02-search-names-an-unlisted-chat')
    await page.locator(tid('search-input')).fill('question')
    await page.locator(tid('search-submit')).click()
    const first = await count(hits, 50)
    await page.locator(tid('search-more')).click()
    const more = await count(hits, 100)
    return { needle, first, more }
  })

  await step('a conversation of 1,040 messages opens whole, at its newest turn', async () => {
    await page.goto(`${WEB_URL}/?s=${users.long}`)
    const turns = await count(page.locator(tid('turn')), users.turns)
    const last = page.locator(tid('answer-text')).last()
    await expectText(last, new RegExp(`^\\s*answer ${users.turns}\\s*$`))
    // Opened at its end: the newest answer is on screen.
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="messages"]')
      return el !== null && el.scrollHeight - el.scrollTop - el.clientHeight < 2
    }, null, { timeout: STEP_MS })
    if (!(await last.isVisible())) throw new Error('the newest answer is not on screen')
    await shot(page, '03-long-conversation-end')
    const first = ((await page.locator(tid('question')).first().textContent()) ?? '').trim()
    return { turns, first, last: ((await last.textContent()) ?? '').trim() }
  })

  await step("an admin's user list reads 100 at a time and the rest on asking", async () => {
    await page.goto(`${WEB_URL}/admin`)
    await page.locator(tid('admin-search')).fill(users.crowd)
    await page.locator(tid('admin-search-button')).click()
    const rows = page.locator(tid('admin-user'))
    // the search's page landed: everyone's first page, shown before it, also has 100 rows
    const first = await count(rows.filter({ hasText: users.crowd }), 100)
    await count(rows, 100)
    await page.locator(tid('admin-users-more')).click()
    const all = await count(rows, users.crowdSize)
    if (await page.locator(tid('admin-users-more')).count()) throw new Error('"more" offered with nothing left')
    return { first, all }
  })
})
