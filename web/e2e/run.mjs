// Browser journey through the real stack, in Debian's Chromium driven by playwright-core.
//
// Env: see harness.mjs. Prints one JSON object on the last line of stdout: {ok, steps, users,
// sessionId, roleSlug, probe, lostProbe, lostSessionId, problems}; exits 1 when any step failed.
// tests/e2e/test_browser.py runs it and checks the outcome against the database as well.
import { PHONE, TAG, STEP_MS, WEB_URL, expectText, failNext, journey, login, noErrorToast, pause, result, sessionLive, shot, step, tid, watchFrames, PASSWORD } from './harness.mjs'

const NEW_PASSWORD = 'galaxy2025pw'

Object.assign(result, { users: {}, sessionId: null, roleSlug: null, probe: `galaxyprobe${TAG}`, lostProbe: `lostprobe${TAG}`, lostSessionId: null })

async function register(page, who) {
  const user = { username: `${who}_${TAG}`, email: `${who}-${TAG}@example.com` }
  await page.goto(`${WEB_URL}/register`)
  await page.locator(tid('username')).fill(user.username)
  await page.locator(tid('username-free')).waitFor({ timeout: STEP_MS })
  await page.locator(tid('email')).fill(user.email)
  // The rule list ticks as the password is typed.
  await page.locator(tid('password')).pressSequentially('abc')
  const partial = await page.locator(`${tid('password-rules')} li`).evaluateAll((items) => items.map((li) => li.dataset.ok))
  if (partial.join() !== 'false,true,false') throw new Error(`password rules after "abc": ${partial}`)
  await page.locator(tid('password')).fill(PASSWORD)
  const full = await page.locator(`${tid('password-rules')} li`).evaluateAll((items) => items.map((li) => li.dataset.ok))
  if (full.join() !== 'true,true,true') throw new Error(`password rules after a good password: ${full}`)
  await page.locator(tid('confirm')).fill(PASSWORD)
  if (who === 'alice') await shot(page, '02-register')
  await page.locator(tid('submit')).click()
  await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
  await page.locator(tid('composer')).waitFor()
  result.users[who] = user
  return user
}

/** Until the chat is not sending (a question, a regenerate), retries included. */
async function idle(page) {
  await page.locator(`${tid('composer-form')}[data-sending="false"]`).waitFor({ timeout: STEP_MS })
}

/** Send a message and follow its answer: returns the distinct lengths seen while streaming. */
async function sendAndWatch(page, text, { stopAfterText = false, shotName = null } = {}) {
  const before = await page.locator(tid('turn')).count()
  await page.locator(tid('composer')).fill(text)
  await page.locator(tid('send')).click()
  const turn = page.locator(tid('turn')).nth(before)
  await turn.waitFor({ timeout: STEP_MS })
  if (stopAfterText) {
    // Stopped as soon as text shows (the browser's own wait, not this loop's round trips): a loaded
    // machine must not let the ~4 s answer finish before the click.
    await turn.locator(tid('answer-text'), { hasText: /\S/ }).waitFor({ timeout: STEP_MS })
    await turn.locator(tid('stop')).click()
  }
  const lengths = []
  let shotTaken = false
  const deadline = Date.now() + STEP_MS
  while (Date.now() < deadline) {
    const final = await turn.getAttribute('data-final')
    const textNow = (await turn.locator(tid('answer')).textContent()) ?? ''
    if (final === 'true') break
    const n = (await turn.locator(tid('answer-text')).count()) ? textNow.length : 0
    if (n > 0 && lengths.at(-1) !== n) lengths.push(n)
    if (n > 0 && shotName && !shotTaken && lengths.length >= 2) {
      await shot(page, shotName)
      shotTaken = true
    }
    await pause(40)
  }
  if ((await turn.getAttribute('data-final')) !== 'true') throw new Error('the answer never became final')
  return { turn, lengths, status: await turn.getAttribute('data-status') }
}

await journey(async ({ newPage }) => {
  const page = await newPage('alice')
  // Realtime frames seen by alice's page: proves answers arrive as broadcasts on the private channel.
  const frames = watchFrames(page)

  await step('signed-out visitor is sent to /login', async () => {
    await page.goto(`${WEB_URL}/`)
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
    await expectText(page.locator('h1'), /欢迎回来/)
    await shot(page, '01-login')
  })

  await step('register alice (rules shown while typing, username availability)', async () => {
    await register(page, 'alice')
    await shot(page, '03-chat-empty')
  })

  await step('pick a role and watch the answer stream', async () => {
    await page.locator(tid('role-tech_expert')).click()
    const checked = await page.locator(tid('role-tech_expert')).getAttribute('aria-checked')
    if (checked !== 'true') throw new Error('role not selected')
    const { turn, lengths, status } = await sendAndWatch(page, `你好，请介绍一下 Vue3 的新特性 ${result.probe}`, { shotName: '04-chat-streaming' })
    if (status !== 'completed') throw new Error(`answer status ${status}`)
    if (lengths.length < 2) throw new Error(`answer did not stream (lengths seen: ${lengths})`)
    await expectText(turn.locator(tid('answer-text')), /offline model/)
    const url = new URL(page.url())
    result.sessionId = url.searchParams.get('s')
    if (!result.sessionId) throw new Error(`no session in ${page.url()}`)
    await expectText(page.locator(tid('session-list')), /Vue3/)
    await shot(page, '05-chat-answered')
    if (frames.chunk === 0 || !frames.topics.has(`realtime:chat:${result.sessionId}`)) {
      throw new Error(`no chunk broadcasts on the private channel: ${JSON.stringify({ ...frames, topics: [...frames.topics] })}`)
    }
    return { lengths: lengths.length, chunkFrames: frames.chunk }
  })

  await step('stop an answer in flight, then regenerate it', async () => {
    const { turn, status } = await sendAndWatch(page, 'Tell me a long story about stars', { stopAfterText: true })
    if (status !== 'cancelled') throw new Error(`stopped answer has status ${status}`)
    await turn.locator(tid('answer-stopped')).waitFor()
    await shot(page, '06-chat-stopped')
    const turns = await page.locator(tid('turn')).count()
    // The request for another answer is taken but its response lost: asked again with the same
    // answer number, it gets the same answer (the test counts the answers in the database).
    const requests = await failNext(page, /\/rest\/v1\/rpc\/request_answer/, 'lost')
    await turn.locator(tid('regenerate')).click()
    const last = page.locator(tid('turn')).last()
    await expectText(last, /offline model/)
    const deadline = Date.now() + STEP_MS
    while ((await last.getAttribute('data-status')) !== 'completed') {
      if (Date.now() > deadline) throw new Error(`regenerated answer: ${await last.getAttribute('data-status')}`)
      await pause(50)
    }
    if ((await page.locator(tid('turn')).count()) !== turns) throw new Error('regenerate changed the number of turns')
    await idle(page)
    if ((await requests()) !== 2) throw new Error('the lost request for another answer was not asked again')
    await noErrorToast(page, 'regenerate')
    await expectText(last.locator(tid('question')), /long story about stars/)
  })

  await step('the conversation survives a reload', async () => {
    await page.reload()
    await page.locator(tid('turn')).nth(1).waitFor({ timeout: STEP_MS })
    const statuses = await page.locator(tid('turn')).evaluateAll((els) => els.map((el) => el.dataset.status))
    if (statuses.join() !== 'completed,completed') throw new Error(`after reload: ${statuses}`)
  })

  await step('a send whose response is lost is stored once', async () => {
    // The next insert into `table` is stored but its response lost, or dropped before it is sent.
    const interfere = (table, fate) => failNext(page, new RegExp(`/rest/v1/${table}\\?`), fate)
    const settled = async (what) => {
      await idle(page) // the send, with its retries, has ended
      if ((await page.locator(tid('composer')).inputValue()) !== '') throw new Error(`${what}: the draft came back as unsent`)
      await noErrorToast(page, what)
    }
    for (const [fate, posts] of [['lost', 1], ['dropped', 2]]) {
      const restore = await interfere('chat_messages', fate)
      const { status } = await sendAndWatch(page, `Lost on the way: ${fate} ${result.lostProbe}`)
      await settled(fate)
      const sent = await restore()
      if (status !== 'completed') throw new Error(`${fate}: answer ${status}`)
      // A lost insert is found, not sent again; a dropped one is sent again under the same id.
      if (sent !== posts) throw new Error(`${fate}: ${sent} inserts sent, expected ${posts}`)
    }
    // A new chat whose session create and first question both lose their responses.
    await page.locator(tid('new-chat')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('chat-empty')).waitFor({ timeout: STEP_MS }) // the chat left had turns (sendAndWatch counts them)
    const sessions = await interfere('chat_sessions', 'lost')
    const questions = await interfere('chat_messages', 'lost')
    const { status } = await sendAndWatch(page, `A new chat on a bad line ${result.lostProbe}`)
    await settled('new chat')
    const sent = [await sessions(), await questions()]
    if (status !== 'completed') throw new Error(`new chat: answer ${status}`)
    if (sent.join() !== '1,1') throw new Error(`new chat: ${sent} session and question inserts sent`)
    result.lostSessionId = new URL(page.url()).searchParams.get('s')
    await page.goto(`${WEB_URL}/?s=${result.sessionId}`)
    await page.locator(tid('turn')).first().waitFor({ timeout: STEP_MS })
  })

  await step('history lists the session and search finds it (English and Chinese)', async () => {
    await page.locator(tid('nav-history')).click()
    await page.waitForURL(`${WEB_URL}/history`)
    await page.locator(tid('history-session')).first().waitFor({ timeout: STEP_MS })
    await shot(page, '07-history')
    await page.locator(tid('search-input')).fill(result.probe)
    await page.locator(tid('search-submit')).click()
    await page.locator(tid('search-hit')).first().waitFor({ timeout: STEP_MS })
    await expectText(page.locator(tid('search-results')), new RegExp(result.probe))
    await shot(page, '08-history-search')
    await page.locator(tid('search-input')).fill('新特性')
    await page.locator(tid('search-submit')).click()
    await expectText(page.locator(tid('search-results')), /新特性/)
    await page.locator(tid('search-input')).fill('nosuchwordanywhere')
    await page.locator(tid('search-submit')).click()
    await page.locator(`${tid('search-results')} ${tid('state-empty')}`).waitFor({ timeout: STEP_MS })
    await page.locator(tid('search-input')).fill(result.probe)
    await page.locator(tid('search-submit')).click()
    await page.locator(tid('search-hit')).first().click()
    await page.waitForURL(new RegExp(`s=${result.sessionId}`), { timeout: STEP_MS })
    await page.locator(tid('turn')).first().waitFor()
  })

  await step('create a private role and chat with it', async () => {
    await page.locator(tid('nav-roles')).click()
    await page.waitForURL(`${WEB_URL}/roles`)
    await page.locator(tid('role-card')).first().waitFor({ timeout: STEP_MS })
    const name = `Poet ${TAG}`
    await page.locator(tid('role-name')).fill(name)
    await page.locator(tid('role-description')).fill('Answers in verse')
    await page.locator(tid('role-prompt')).fill('You are a poet. Answer every question as a short poem.')
    // Its insert is stored but the response lost: the page finds the role instead of failing.
    const roleInserts = await failNext(page, /\/rest\/v1\/ai_roles\?/, 'lost')
    await page.locator(tid('role-submit')).click()
    await expectText(page.locator(tid('my-roles')), new RegExp(name))
    if ((await roleInserts()) !== 1) throw new Error('the role was inserted again')
    await shot(page, '09-roles')
    await page.locator(tid('my-role-card')).first().getByRole('button').first().click()
    await page.waitForURL(/role=/)
    result.roleSlug = new URL(page.url()).searchParams.get('role')
    const chip = page.locator(tid(`role-${result.roleSlug}`))
    await chip.waitFor({ timeout: STEP_MS })
    if ((await chip.getAttribute('aria-checked')) !== 'true') throw new Error('custom role not preselected')
    const { status } = await sendAndWatch(page, 'Write about the moon')
    if (status !== 'completed') throw new Error(`custom-role answer ${status}`)
  })

  await step('profile shows the user and their counts', async () => {
    await page.locator(tid('nav-profile')).click()
    await page.waitForURL(`${WEB_URL}/profile`)
    await expectText(page.locator(tid('profile-username')), new RegExp(result.users.alice.username))
    await expectText(page.locator(tid('profile-email')), new RegExp(result.users.alice.email))
    await expectText(page.locator(tid('count-sessions')), /^3$/)
    await shot(page, '10-profile')
  })

  await step('change the password on the profile page: typed twice, the current one refused, an answer lost', async () => {
    const form = page.locator(tid('password-form'))
    await form.locator(tid('password')).fill(NEW_PASSWORD)
    await form.locator(tid('confirm')).fill(`${NEW_PASSWORD}x`)
    await form.locator(tid('password-mismatch')).waitFor({ timeout: STEP_MS })
    if (await form.locator(tid('password-save')).isEnabled()) throw new Error('a mistyped second password can be saved')
    // The current password as the new one: Auth refuses it (same_password), said in Chinese.
    await form.locator(tid('password')).fill(PASSWORD)
    await form.locator(tid('confirm')).fill(PASSWORD)
    await form.locator(tid('password-save')).click()
    await expectText(page.locator('.el-message--error'), /新密码不能与当前密码相同/)
    await page.locator('.el-message--error').first().waitFor({ state: 'detached', timeout: STEP_MS })
    await form.locator(tid('password')).fill(NEW_PASSWORD)
    await form.locator(tid('confirm')).fill(NEW_PASSWORD)
    // The change arrives and its answer is lost: the page sets it again, and Auth's "that is the
    // current password" then says the first one was applied.
    const changes = await failNext(page, /\/auth\/v1\/user(\?|$)/, 'lost', 'PUT')
    await form.locator(tid('password-save')).click()
    await expectText(page.locator('.el-message--success'), /密码已修改/)
    if ((await changes()) !== 2) throw new Error('the lost change was not sent again')
    if ((await form.locator(tid('password')).inputValue()) !== '') throw new Error('the new password stays in the form')
    await page.waitForFunction(() => document.getAnimations().length === 0, null, { timeout: STEP_MS }) // the toast faded in
    await shot(page, '10b-password-changed')
  })

  await step('switch the UI to English and back', async () => {
    await page.locator(tid('lang-toggle')).click()
    await expectText(page.locator(tid('nav-history')), /^\s*History\s*$/)
    await expectText(page.locator('h1'), /Profile/)
    await page.locator(tid('nav-chat')).click()
    await page.locator(tid('composer')).waitFor()
    await shot(page, '11-chat-english')
    await page.reload()
    await expectText(page.locator(tid('nav-history')), /History/) // remembered
    await page.locator(tid('lang-toggle')).click()
    await expectText(page.locator(tid('nav-history')), /历史/)
  })

  await step('phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(`${WEB_URL}/?s=${result.sessionId}`)
    await page.locator(tid('turn')).first().waitFor({ timeout: STEP_MS })
    if (!(await page.locator(tid('tabbar')).isVisible())) throw new Error('no tab bar on a phone')
    // Long answers on a narrow screen: the chat is taller than its pane, opens at its end, and
    // follows a new answer down as it streams (rendered at its own pace) to its last line.
    const atEnd = async (what) => {
      const end = () => {
        const el = document.querySelector('[data-testid="messages"]')
        return el !== null && el.scrollHeight > el.clientHeight && el.scrollHeight - el.scrollTop - el.clientHeight < 2
      }
      await page.waitForFunction(end, null, { timeout: 5000 }).catch(() => {}) // the check below says what was wrong
      const seen = await page.locator(tid('messages')).evaluate((el) => ({ height: el.scrollHeight, pane: el.clientHeight, top: el.scrollTop }))
      if (!(await page.evaluate(end))) throw new Error(`${what}: not at the end of the chat: ${JSON.stringify(seen)}`)
    }
    await atEnd('opened')
    await sendAndWatch(page, 'One more, read on a phone')
    await atEnd('answered')
    await shot(page, '12-phone-chat')
    await page.locator(tid('open-sessions')).click()
    await page.locator(`.el-drawer ${tid('session-item')}`).first().waitFor({ state: 'visible', timeout: STEP_MS })
    // Wait for the slide-in to end with the drawer on screen: its transition may not have started
    // yet when the items first count as visible, so "no animation running" alone can come too early.
    await page
      .waitForFunction(
        () => {
          const drawer = document.querySelector('.el-drawer')
          return drawer !== null && drawer.getBoundingClientRect().x >= 0 && document.getAnimations().length === 0
        },
        null,
        { timeout: STEP_MS },
      )
      .catch(() => {}) // the check below says what was wrong
    const box = await page.locator('.el-drawer').boundingBox()
    if (!box || box.x < 0 || box.width > 390) throw new Error(`drawer not on screen: ${JSON.stringify(box)}`)
    await shot(page, '13-phone-sessions')
    await page.keyboard.press('Escape')
    await page.setViewportSize({ width: 1280, height: 800 })
  })

  await step('log out', async () => {
    await page.locator(tid('logout')).click()
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
    await page.goto(`${WEB_URL}/history`)
    await page.waitForURL(/\/login/, { timeout: STEP_MS })
  })

  const bob = await newPage('bob')

  await step("a second user sees none of the first user's data", async () => {
    await register(bob, 'bob')
    await bob.locator(`${tid('session-list')} ${tid('state-empty')}`).waitFor({ timeout: STEP_MS })
    // Even with alice's session id in the URL nothing of hers shows.
    await bob.goto(`${WEB_URL}/?s=${result.sessionId}`)
    await bob.locator(tid('chat-not-found')).waitFor({ timeout: STEP_MS })
    if ((await bob.locator(tid('turn')).count()) !== 0) throw new Error("bob sees alice's messages")
    await bob.locator(tid('nav-history')).click()
    await bob.locator(`${tid('history-sessions')} ${tid('state-empty')}`).waitFor({ timeout: STEP_MS })
    await bob.locator(tid('search-input')).fill(result.probe)
    await bob.locator(tid('search-submit')).click()
    await bob.locator(`${tid('search-results')} ${tid('state-empty')}`).waitFor({ timeout: STEP_MS })
    await bob.locator(tid('nav-roles')).click()
    await bob.locator(tid('role-card')).first().waitFor({ timeout: STEP_MS })
    const mine = await bob.locator(tid('my-role-card')).count()
    if (mine !== 0) throw new Error(`bob sees ${mine} custom roles`)
    if (await bob.getByText(`Poet ${TAG}`).count()) throw new Error("bob sees alice's role")
    await shot(bob, '14-bob-roles')
  })

  await step('alice logs in again with her new password and finds her chats', async () => {
    await page.goto(`${WEB_URL}/login`)
    await page.locator(tid('email')).fill(result.users.alice.email)
    await page.locator(tid('password')).fill(PASSWORD) // the one changed on the profile page
    await page.locator(tid('submit')).click()
    await expectText(page.locator(tid('auth-error')), /邮箱或密码错误/)
    await page.locator(tid('password')).fill(NEW_PASSWORD)
    await page.locator(tid('submit')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('session-item')).nth(1).waitFor({ timeout: STEP_MS })
    await page.locator(tid('logout')).click()
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
  })

  await step('logging out here keeps the other devices; "sign out everywhere" ends them all', async () => {
    const alice = { email: result.users.alice.email, password: NEW_PASSWORD }
    const laptop = page
    const phone = await newPage('alice-phone')
    for (const device of [laptop, phone]) await login(device, alice)
    await laptop.locator(tid('logout')).click()
    await laptop.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
    const phoneKept = await sessionLive(phone)
    const tablet = await newPage('alice-tablet')
    await login(tablet, alice)
    await phone.goto(`${WEB_URL}/profile`)
    await phone.locator(tid('devices-card')).scrollIntoViewIfNeeded()
    await shot(phone, '15-sign-out-everywhere')
    await phone.locator(tid('logout-everywhere')).click()
    await phone.click('.el-message-box__btns .el-button--primary')
    await phone.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
    return { phoneKept, tabletEnded: !(await sessionLive(tablet)) }
  })

  await step("this round's account and chat controls on a phone, in English", async () => {
    const phone = await newPage('alice-phone-en', PHONE)
    await phone.goto(`${WEB_URL}/login`)
    await phone.evaluate(() => localStorage.setItem('chatgalaxy-locale', 'en'))
    await login(phone, { email: result.users.alice.email, password: NEW_PASSWORD })
    await phone.goto(`${WEB_URL}/profile`)
    const email = await expectText(phone.locator(`${tid('email-form')} h2`), /^Change email$/)
    const everywhere = await expectText(phone.locator(tid('logout-everywhere')), /Sign out everywhere/)
    await phone.locator(tid('email-form')).scrollIntoViewIfNeeded()
    await shot(phone, '16-phone-account-en')
    await phone.goto(`${WEB_URL}/?s=${result.sessionId}`)
    const remove = await expectText(phone.locator(tid('delete-turn')).first(), /Delete/)
    if (!(await phone.locator(tid('export-chat')).isVisible())) throw new Error('no export button on a phone')
    const width = await phone.evaluate(() => document.documentElement.scrollWidth)
    await shot(phone, '17-phone-chat-controls-en')
    return { email, everywhere: everywhere.trim(), remove: remove.trim(), width }
  })
})
