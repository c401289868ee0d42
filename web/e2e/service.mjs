// Running ChatGalaxy as a service, in the browser: the usage page (allowance and the 30-day chart),
// API keys (create: shown once, also when its answer is lost; revoke), the admin area (absent for
// a user; search, change a plan, disable, see usage as an admin), and export + delete (its answer
// lost) from the profile page, an answer that continued a /v1 request's words (its note and the
// whole text); in Chinese and English, on a desktop and a phone. Users come from
// tests/e2e/test_service.py (E2E_USERS).
import { readFileSync } from 'node:fs'
import { PHONE, journey, login, step, shot, tid, expectText, failNext, final, noErrorToast, result, WEB_URL, STEP_MS } from './harness.mjs'

const users = JSON.parse(process.env.E2E_USERS ?? '{}')

async function english(page) {
  await page.evaluate(() => localStorage.setItem('chatgalaxy-locale', 'en'))
}

await journey(async ({ newPage }) => {
  const carol = await newPage('carol')

  await step('usage page: plan, allowance and the 30-day chart per model (zh)', async () => {
    await login(carol, users.carol)
    await carol.goto(`${WEB_URL}/usage`)
    await carol.waitForSelector(tid('usage-chart'), { timeout: STEP_MS })
    const remaining = await expectText(carol.locator(`${tid('allowance-day')} ${tid('allowance-remaining')}`), /\d/)
    const legend = await carol.locator(tid('usage-legend')).allTextContents()
    const bars = await carol.locator(`${tid('usage-chart')} g[data-total]`).evaluateAll((gs) =>
      gs.map((g) => ({ day: g.getAttribute('data-day'), total: Number(g.getAttribute('data-total')) })).filter((b) => b.total > 0),
    )
    await shot(carol, 'usage-zh')
    return { remaining, legend, bars, plan: await carol.locator(tid('usage-plan')).textContent() }
  })

  await step('no admin area for a user: no link, /admin sends them back', async () => {
    const links = await carol.locator(tid('nav-admin')).count()
    await carol.goto(`${WEB_URL}/admin`)
    await carol.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    const area = await carol.locator(tid('admin-area')).count()
    await carol.goto(`${WEB_URL}/profile`)
    await carol.waitForSelector(tid('profile-links'), { timeout: STEP_MS })
    return { links, area, profileLinks: await carol.locator(tid('profile-admin')).count() }
  })

  await step('create an API key: the secret is shown once', async () => {
    await english(carol)
    await carol.goto(`${WEB_URL}/keys`)
    await carol.fill(tid('key-name'), 'journey key')
    await carol.selectOption(tid('key-expiry'), { label: '30 days' })
    await carol.click(tid('key-create'))
    const secret = (await expectText(carol.locator(tid('key-secret')), /^sk-cg-[0-9a-f]{48}$/)).trim()
    await carol.waitForSelector(tid('key-row'), { timeout: STEP_MS })
    await carol.click(tid('api-usage-toggle'))
    const snippet = await carol.locator(tid('api-usage-snippet')).textContent()
    const notes = await carol.locator(`${tid('api-usage-notes')} li`).count()
    await shot(carol, 'keys-created-en')
    await carol.click(tid('key-fresh-close'))
    await carol.reload()
    await carol.waitForSelector(tid('key-row'), { timeout: STEP_MS })
    const shownAgain = await carol.locator(tid('key-secret')).count()
    const row = await carol.locator(tid('key-row')).first().textContent()
    result.secret = secret
    return { shownAgain, row, prefixShown: row.includes(secret.slice(0, 12)), snippet, notes }
  })

  await step('revoke the key', async () => {
    await carol.click(tid('key-revoke'))
    await carol.click('.el-message-box__btns .el-button--primary')
    await carol.waitForSelector(tid('key-row-revoked'), { timeout: STEP_MS })
    await shot(carol, 'keys-revoked-en')
    return { live: await carol.locator(tid('key-row')).count() }
  })

  await step('an API key whose answer is lost: one live key, the one whose secret is shown', async () => {
    // The create is taken but its answer lost: asked again under the same id, it is refused as
    // taken, so the page revokes that key (its secret went with the answer) and makes another.
    const creates = await failNext(carol, /\/rest\/v1\/rpc\/create_api_key/, 'lost')
    await carol.fill(tid('key-name'), 'lost answer key')
    await carol.click(tid('key-create'))
    const secret = (await expectText(carol.locator(tid('key-secret')), /^sk-cg-[0-9a-f]{48}$/)).trim()
    await carol.waitForSelector(tid('key-row'), { timeout: STEP_MS })
    await noErrorToast(carol, 'an API key whose answer was lost')
    const calls = await creates()
    await carol.click(tid('key-fresh-close'))
    result.lostAnswerSecret = secret
    return {
      calls,
      live: await carol.locator(tid('key-row')).allTextContents(),
      revoked: await carol.locator(tid('key-row-revoked')).count(),
    }
  })

  await step('usage page in English', async () => {
    await carol.goto(`${WEB_URL}/usage`)
    await carol.waitForSelector(tid('usage-chart'), { timeout: STEP_MS })
    const title = await carol.locator('h1').textContent()
    await shot(carol, 'usage-en')
    return { title }
  })

  const phone = await newPage('carol-phone', PHONE)
  await step('usage and keys on a phone', async () => {
    await login(phone, users.carol)
    await phone.goto(`${WEB_URL}/profile`)
    await phone.click(tid('profile-usage'))
    await phone.waitForSelector(tid('usage-chart'), { timeout: STEP_MS })
    const width = await phone.evaluate(() => document.documentElement.scrollWidth)
    await shot(phone, 'phone-usage-zh')
    await phone.goto(`${WEB_URL}/keys`)
    await phone.waitForSelector(tid('key-list'), { timeout: STEP_MS })
    const keysWidth = await phone.evaluate(() => document.documentElement.scrollWidth)
    await shot(phone, 'phone-keys-zh')
    return { width, keysWidth }
  })

  /** Ask a question in a new chat and wait for its answer to be final: the answer's usage line. */
  async function askAndReadUsage(page, text) {
    await page.goto(`${WEB_URL}/`)
    await page.locator(tid('composer')).waitFor({ timeout: STEP_MS })
    await page.locator(tid('composer')).fill(text)
    await page.locator(tid('send')).click()
    const turn = page.locator(tid('turn')).last()
    await turn.locator(tid('answer-usage')).waitFor({ timeout: STEP_MS })
    const parts = {}
    for (const kind of ['input', 'output', 'reasoning', 'cached']) {
      const part = turn.locator(tid(`usage-${kind}`))
      parts[kind] = (await part.count()) ? (await part.textContent()).trim() : null
    }
    return { text: (await turn.locator(tid('answer-usage')).textContent()).trim(), parts, final: await turn.getAttribute('data-final') }
  }

  await step('each answer shows its token counts (zh on a phone, en on a desktop)', async () => {
    const zh = await askAndReadUsage(phone, '用一句话介绍你自己')
    const width = await phone.evaluate(() => document.documentElement.scrollWidth)
    await shot(phone, 'phone-chat-usage-zh')
    const en = await askAndReadUsage(carol, 'Introduce yourself in one sentence.')
    await shot(carol, 'chat-usage-en')
    return { zh, en, width }
  })

  let erinPhone = null  // on the request with a context, for the follow-up below
  await step("an API key's chat: each request shows the context it sent (en desktop, zh phone)", async () => {
    /** Open the API session, go to the request whose question is `question` (its sibling arrows), open its context. */
    async function contextOf(page, flip) {
      await page.goto(`${WEB_URL}/?s=${users.erin.apiSession}`)
      await page.locator(tid('request-context-toggle')).first().waitFor({ timeout: STEP_MS })
      if (flip) {
        await page.locator(`${tid('question-nav')} ${tid('sibling-prev')}`).first().click()
        await expectText(page.locator(tid('question')).first(), /晚上好/)
        await page.locator(`${tid('question-attachments')} ${tid('attachment-thumb')}`).waitFor({ timeout: STEP_MS })
      }
      await page.locator(tid('request-context-toggle')).first().click()
      await page.locator(tid('request-context-body')).waitFor({ timeout: STEP_MS })
      await page.locator(`${tid('request-context-message')}, ${tid('request-context-empty')}`).first().waitFor({ timeout: STEP_MS })
      const messages = await page.locator(tid('request-context-message')).evaluateAll((items) =>
        items.map((li) => [li.querySelector('[data-role]').dataset.role, li.querySelector('.whitespace-pre-wrap').textContent]),
      )
      return {
        questions: await page.locator(tid('question')).allTextContents(),
        messages,
        labels: await page.locator(`${tid('request-context-message')} [data-role]`).allTextContents(),
        empty: await page.locator(tid('request-context-empty')).count(),
        answerer: (await page.locator(tid('answer-role')).first().textContent()).trim(),
        pictures: await page.locator(`${tid('question-attachments')} ${tid('attachment-thumb')}`).count(),
        parameters: (await page.locator(tid('request-context-parameters')).count())
          ? (await page.locator(tid('request-context-parameters')).textContent()).trim()
          : null,
      }
    }
    const erin = await newPage('erin')
    await login(erin, users.erin)
    await english(erin)
    const en = await contextOf(erin, false)
    await shot(erin, 'api-context-empty-en')
    erinPhone = await newPage('erin-phone', PHONE)
    await login(erinPhone, users.erin)
    const zh = await contextOf(erinPhone, true)
    const width = await erinPhone.evaluate(() => document.documentElement.scrollWidth)
    await shot(erinPhone, 'phone-api-context-zh')
    await carol.goto(`${WEB_URL}/`)
    await carol.locator(tid('composer')).waitFor({ timeout: STEP_MS })
    const webChatToggles = await carol.locator(tid('request-context-toggle')).count()
    return { en, zh, width, webChatToggles }
  })

  await step("a question asked under a request's answer keeps what the request brought (zh phone)", async () => {
    const turns = erinPhone.locator(tid('turn'))
    const before = await turns.count()
    await erinPhone.locator(tid('composer')).fill('晚安')
    await erinPhone.locator(tid('send')).click()
    const followUp = turns.nth(before)
    await expectText(followUp.locator(tid('question')), /晚安/)
    await final(followUp)
    await shot(erinPhone, 'phone-api-follow-up-zh')
    return {
      status: await followUp.getAttribute('data-status'),
      questions: await erinPhone.locator(tid('question')).allTextContents(),
      toggles: await erinPhone.locator(tid('request-context-toggle')).count(),
    }
  })

  await step('each API key shows what it spent in 30 days (zh phone)', async () => {
    await erinPhone.goto(`${WEB_URL}/keys`)
    await erinPhone.locator(tid('key-usage')).first().waitFor({ timeout: STEP_MS })
    const usage = await erinPhone.locator(tid('key-usage')).allTextContents()
    await erinPhone.locator(tid('key-usage')).first().scrollIntoViewIfNeeded()
    await shot(erinPhone, 'phone-key-usage-zh')
    return { usage, width: await erinPhone.evaluate(() => document.documentElement.scrollWidth) }
  })

  await step("an API key's chat lists its requests to jump between them (zh phone)", async () => {
    await erinPhone.goto(`${WEB_URL}/?s=${users.erin.apiSession}`)
    await erinPhone.locator(tid('api-requests-toggle')).click()
    await erinPhone.locator(tid('api-request')).nth(1).waitFor({ timeout: STEP_MS })
    // each item: its time, question and model
    const listed = await erinPhone.locator(tid('api-request')).evaluateAll((items) =>
      items.map((item) => [...item.querySelectorAll('span')].slice(1).map((span) => span.textContent.trim())),
    )
    await erinPhone.locator(tid('api-request')).filter({ hasText: '晚上好' }).click()
    await expectText(erinPhone.locator(tid('question')).first(), /晚上好/)
    const current = await erinPhone.locator(`${tid('api-request')}[aria-current="true"]`).textContent()
    await shot(erinPhone, 'phone-api-requests-zh')
    return { listed, current, width: await erinPhone.evaluate(() => document.documentElement.scrollWidth) }
  })

  await step("an answer that continued a request's words shows them under a note (zh and en phone)", async () => {
    /** The request's answer in the key's chat: its note, what it shows, whether it is final. */
    async function continued(page) {
      await page.goto(`${WEB_URL}/?s=${users.fay.continued.session}`)
      const turn = page.locator(tid('turn')).last()
      await turn.locator(tid('answer-continued')).waitFor({ timeout: STEP_MS })
      await final(turn)
      await turn.locator(tid('answer-continued')).scrollIntoViewIfNeeded()
      return {
        note: (await turn.locator(tid('answer-continued')).textContent()).trim(),
        text: await turn.locator(tid('answer-text')).innerText(),
        status: await turn.getAttribute('data-status'),
        width: await page.evaluate(() => document.documentElement.scrollWidth),
      }
    }
    const fay = await newPage('fay-phone', PHONE)
    await login(fay, users.fay)
    const zh = await continued(fay)
    await shot(fay, 'phone-api-continued-zh')
    await english(fay)
    const en = await continued(fay)
    await shot(fay, 'phone-api-continued-en')
    return { zh, en }
  })

  const admin = await newPage('admin')
  await step('admin area: search a user, change the plan, disable, see usage (zh)', async () => {
    await login(admin, users.admin)
    await admin.waitForSelector(tid('nav-admin'), { timeout: STEP_MS })
    await admin.click(tid('nav-admin'))
    await admin.waitForSelector(tid('admin-area'), { timeout: STEP_MS })
    await admin.fill(tid('admin-search'), users.carol.username)
    await admin.click(tid('admin-search-button'))
    // the search narrows the list (everyone is listed before it)
    await admin.waitForFunction((id) => {
      const rows = document.querySelectorAll('[data-testid="admin-user"]')
      return rows.length > 0 && [...rows].every((r) => r.getAttribute('data-user-id') === id)
    }, users.carol.id, { timeout: STEP_MS })
    const row = admin.locator(`${tid('admin-user')}[data-user-id="${users.carol.id}"]`)
    const listed = await admin.locator(tid('admin-user')).count()
    await row.locator(tid('admin-plan')).selectOption('pro')
    await admin.waitForSelector('.el-message--success', { timeout: STEP_MS })
    await row.locator(tid('admin-toggle')).click()
    await row.locator(tid('admin-disabled')).waitFor({ timeout: STEP_MS })
    await row.locator(tid('admin-usage')).click()
    await row.locator(tid('admin-user-usage')).waitFor({ timeout: STEP_MS })
    await row.locator(`${tid('usage-chart')} g[data-total]`).first().waitFor({ state: 'attached', timeout: STEP_MS })
    await shot(admin, 'admin-users-zh')
    return { listed }
  })

  await step('admin edits a built-in role (en)', async () => {
    await english(admin)
    await admin.goto(`${WEB_URL}/admin`)
    await admin.click(tid('admin-tab-roles'))
    const first = admin.locator(tid('admin-role')).first()
    await first.locator(tid('admin-role-name')).fill(`Helper ${users.tag}`)
    await first.locator(tid('admin-role-save')).click()
    await admin.waitForSelector('.el-message--success', { timeout: STEP_MS })
    await shot(admin, 'admin-roles-en')
  })

  const adminPhone = await newPage('admin-phone', PHONE)
  await step('admin area on a phone', async () => {
    await login(adminPhone, users.admin)
    await adminPhone.goto(`${WEB_URL}/profile`)
    await adminPhone.click(tid('profile-admin'))
    await adminPhone.waitForSelector(tid('admin-user'), { timeout: STEP_MS })
    const width = await adminPhone.evaluate(() => document.documentElement.scrollWidth)
    await shot(adminPhone, 'phone-admin-zh')
    return { width }
  })

  const dave = await newPage('dave', { acceptDownloads: true })
  await step('export everything from the profile page', async () => {
    await login(dave, users.dave)
    await dave.goto(`${WEB_URL}/profile`)
    await dave.waitForSelector(tid('account-data'), { timeout: STEP_MS })
    const [download] = await Promise.all([dave.waitForEvent('download', { timeout: STEP_MS }), dave.click(tid('account-export'))])
    const document = JSON.parse(readFileSync(await download.path(), 'utf8'))
    await shot(dave, 'profile-account-zh')
    return { file: download.suggestedFilename(), user: document.user?.id, sessions: document.sessions.length, messages: document.messages.length }
  })

  await step('delete the account: a wrong password is refused, the right one deletes it', async () => {
    await dave.click(tid('account-delete'))
    await dave.fill(tid('account-delete-password'), 'not-the-password1')
    await dave.click(tid('account-delete-confirm'))
    const refused = await expectText(dave.locator('.el-message--error'), /密码不正确/)
    await shot(dave, 'profile-delete-refused-zh')
    // The right password deletes the account, but the answer is lost: the page finds the account
    // gone and says it is deleted, rather than sending it again (refused: no such password now).
    await dave.locator('.el-message--error').first().waitFor({ state: 'detached', timeout: STEP_MS }) // the refusal's toast
    const deletes = await failNext(dave, /\/api\/account$/, 'lost', 'DELETE')
    await dave.fill(tid('account-delete-password'), users.dave.password)
    await dave.click(tid('account-delete-confirm'))
    await dave.waitForURL(/\/login/, { timeout: STEP_MS })
    await noErrorToast(dave, 'an account deletion whose answer was lost')
    return { refused, deletes: await deletes() }
  })
})
