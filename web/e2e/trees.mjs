// Browser journey for conversation trees (issue 14): edit a question and flip between the versions,
// regenerate and flip between answers (the choice survives a reload), branch into a new chat, share the
// conversation (its first answer lost on the way) and open the link in a fresh signed-out context
// (then revoke it), reload while an answer
// is being written and watch it continue, pin and rename in the sidebar, the shared page on a phone
// in English, and the owner's chat on a phone: finger-sized controls, a 16px composer, the notch and
// home indicator padded for; a search hit on a branch not shown opens that branch.
//
// Env: see harness.mjs. Prints {ok, steps, user, sessionId, branchId, shareToken, resumed, problems} on
// its last line; tests/e2e/test_trees.py runs it and checks the database for what the page showed.
import { PHONE, TAG, STEP_MS, WEB_URL, expectText, failNext, final, journey, login, noErrorToast, pause, result, shot, sideways, step, tid, PASSWORD, signUp } from './harness.mjs'

Object.assign(result, { user: null, sessionId: null, branchId: null, shareToken: null, resumed: null })

async function register(page) {
  const user = { username: `tree_${TAG}`, email: `tree-${TAG}@example.com` }
  await signUp(page, user)
  await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
  await page.locator(tid('composer')).waitFor()
  result.user = user
}

/** Send `text` and return the new turn once its answer is final. */
async function ask(page, text) {
  const before = await page.locator(tid('turn')).count()
  await page.locator(tid('composer')).fill(text)
  await page.locator(tid('send')).click()
  const turn = page.locator(tid('turn')).nth(before)
  await turn.waitFor({ timeout: STEP_MS })
  return final(turn)
}

const position = (turn, nav) => turn.locator(`${tid(nav)} ${tid('sibling-position')}`)

/** The answer's footer (the row of its copy button): one line when no part of it sits below the tallest. */
async function footer(turn) {
  return turn.locator(tid('copy-answer')).locator('..').evaluate((row) => {
    const tallest = Math.max(...[...row.children].map((child) => child.getBoundingClientRect().height))
    return { height: Math.round(row.getBoundingClientRect().height), tallest: Math.round(tallest) }
  })
}

/** What a control covers on the page, in whole pixels. */
async function size(locator) {
  const box = await locator.boundingBox()
  if (!box) throw new Error('the control is not shown')
  return { w: Math.round(box.width), h: Math.round(box.height) }
}

await journey(async ({ newPage }) => {
  const page = await newPage('owner', { permissions: ['clipboard-read', 'clipboard-write'] })

  await step('two questions, and the session is titled in Chinese', async () => {
    await register(page)
    await ask(page, '介绍一下杭州')
    await ask(page, '推荐三个景点')
    result.sessionId = new URL(page.url()).searchParams.get('s')
    const title = await expectText(page.locator(tid('chat-title')), /介绍一下杭州/)
    return { title: title.trim() }
  })

  await step('edit a question: a new branch, and ‹ 1 / 2 › flips back to the original', async () => {
    const second = page.locator(tid('turn')).nth(1)
    await second.locator(tid('edit-question')).click()
    await second.locator(tid('edit-text')).fill('推荐三家餐厅')
    await second.locator(tid('edit-send')).click()
    await expectText(second.locator(tid('question')), /推荐三家餐厅/)
    await final(second)
    await expectText(position(second, 'question-nav'), /2 \/ 2/)
    await shot(page, '01-edited')
    await second.locator(`${tid('question-nav')} ${tid('sibling-prev')}`).click()
    await expectText(second.locator(tid('question')), /推荐三个景点/)
    await expectText(position(second, 'question-nav'), /1 \/ 2/)
    await shot(page, '02-original-branch')
    await second.locator(`${tid('question-nav')} ${tid('sibling-next')}`).click()
    await expectText(second.locator(tid('question')), /推荐三家餐厅/)
  })

  await step('regenerate keeps both answers; the choice survives a reload', async () => {
    const second = page.locator(tid('turn')).nth(1)
    const first = await second.locator(tid('answer-text')).textContent()
    await second.locator(tid('regenerate')).click()
    await expectText(position(second, 'answer-nav'), /2 \/ 2/)
    await final(second)
    // The choice is stored with an update of the session; reload only once the server has answered it.
    const stored = page.waitForResponse(
      (r) => r.url().includes('/rest/v1/chat_sessions') && r.request().method() === 'PATCH',
      { timeout: STEP_MS },
    )
    await second.locator(`${tid('answer-nav')} ${tid('sibling-prev')}`).click()
    await expectText(position(second, 'answer-nav'), /1 \/ 2/)
    const update = await stored
    if (!update.ok()) throw new Error(`storing the choice failed: ${update.status()}`)
    await page.reload()
    const again = page.locator(tid('turn')).nth(1)
    await expectText(position(again, 'answer-nav'), /1 \/ 2/)
    const shown = await again.locator(tid('answer-text')).textContent()
    if (shown !== first) throw new Error('after the reload the first answer is not the one shown')
    await shot(page, '03-answers-after-reload')
  })

  await step('branch into a new chat from an answer (double-clicked)', async () => {
    const second = page.locator(tid('turn')).nth(1)
    // The branch is made but the answer lost: asked again under the same name, the same copy. The
    // button is double-clicked: the second click makes no second copy.
    const calls = await failNext(page, /\/rest\/v1\/rpc\/chat_branch/, 'lost')
    await second.locator(tid('branch')).dblclick()
    await page.waitForURL((url) => url.searchParams.get('s') && url.searchParams.get('s') !== result.sessionId, {
      timeout: STEP_MS,
    })
    result.branchId = new URL(page.url()).searchParams.get('s')
    await expectText(page.locator(tid('turn')).nth(1).locator(tid('question')), /推荐三家餐厅/)
    const turns = await page.locator(tid('turn')).count()
    if (turns !== 2) throw new Error(`the branch shows ${turns} turns`)
    if ((await calls()) !== 2) throw new Error('the lost branch call was not asked again')
    await shot(page, '04-branch')
  })

  await step('share the conversation and open the link signed out', async () => {
    await page.goto(`${WEB_URL}/?s=${result.sessionId}`)
    await page.locator(tid('turn')).nth(1).waitFor()
    await page.locator(tid('share-open')).click()
    // The link is made but its answer lost: asked again under the same id it is refused as taken,
    // so the page deletes that share (its token went with the answer) and makes another.
    const shares = await failNext(page, /\/rest\/v1\/rpc\/share_session/, 'lost')
    await page.locator(tid('share-create')).click()
    await page.locator(tid('share-link')).waitFor({ timeout: STEP_MS })
    await page.waitForFunction(() => !document.querySelector('[data-testid="share-create"]')?.disabled)
    const link = await page.locator(tid('share-link')).inputValue()
    result.shareToken = link.split('/s/')[1]
    await noErrorToast(page, 'a share link whose answer was lost')
    const calls = await shares()
    const items = await page.locator(tid('share-item')).count()
    await shot(page, '05-share-dialog')
    const stranger = await newPage('stranger')
    await stranger.goto(link)
    await stranger.locator(tid('shared-message')).first().waitFor({ timeout: STEP_MS })
    const texts = await stranger.locator(tid('shared-message')).allTextContents()
    const robots = await stranger.locator('meta[name="robots"]').getAttribute('content')
    await shot(stranger, '06-shared-page')
    await stranger.context().close()
    return { messages: texts.length, robots, hasEdit: texts.some((t) => t.includes('推荐三家餐厅')), hasOriginal: texts.some((t) => t.includes('推荐三个景点')), calls, items }
  })

  await step('the shared page on a phone, in English', async () => {
    const phone = await newPage('phone', { viewport: { width: 390, height: 844 }, locale: 'en', isMobile: true, hasTouch: true })
    await phone.addInitScript(() => localStorage.setItem('chatgalaxy-locale', 'en'))
    await phone.goto(`${WEB_URL}/s/${result.shareToken}`)
    await phone.locator(tid('shared-message')).first().waitFor({ timeout: STEP_MS })
    await expectText(phone.locator(tid('shared-page')), /shared from ChatGalaxy/)
    await shot(phone, '07-shared-phone-en')
    await phone.context().close()
  })

  // The owner's chat on a phone (zh): the turn's edit and delete, the answer's copy and branch, both
  // ‹ › pairs, the drawer's rename and pin and the share sheet's revoke are a finger's size (44px
  // each way below sm), the composer types at 16px (iOS Safari zooms into a smaller field on focus),
  // nothing is wider than the screen; on the desktop the same turn's controls keep their small size.
  let phone = null
  await step('on a phone the chat controls are finger-sized and the composer types at 16px (zh)', async () => {
    phone = await newPage('owner-phone', PHONE)
    await login(phone, { email: result.user.email, password: PASSWORD })
    await phone.goto(`${WEB_URL}/?s=${result.sessionId}`)
    const second = await final(phone.locator(tid('turn')).nth(1))
    await expectText(position(second, 'question-nav'), /2 \/ 2/)
    await expectText(position(second, 'answer-nav'), /\/ 2/)
    const pair = async (nav) => [await size(second.locator(`${tid(nav)} ${tid('sibling-prev')}`)), await size(second.locator(`${tid(nav)} ${tid('sibling-next')}`))]
    const sizes = {
      edit: await size(second.locator(tid('edit-question'))),
      delete: await size(second.locator(tid('delete-turn'))),
      copy: await size(second.locator(tid('copy-answer'))),
      branch: await size(second.locator(tid('branch'))),
      questionNav: await pair('question-nav'),
      answerNav: await pair('answer-nav'),
      sessions: await size(phone.locator(tid('open-sessions'))),
      share: await size(phone.locator(tid('share-open'))),
      export: await size(phone.locator(tid('export-chat'))),
      language: await size(phone.locator(tid('lang-toggle'))),
      avatar: await size(phone.locator(tid('header-avatar'))),
      logout: await size(phone.locator(tid('logout'))),
    }
    const answerFooter = await footer(second)
    const overflow = await sideways(phone)
    const composerPx = await phone.locator(tid('composer')).evaluate((el) => parseFloat(getComputedStyle(el).fontSize))
    const width = await phone.evaluate(() => document.documentElement.scrollWidth)
    await second.locator(tid('question')).scrollIntoViewIfNeeded()
    await shot(phone, '07a-phone-turn-zh')

    await phone.locator(tid('open-sessions')).click()
    const row = phone.locator(`.el-drawer ${tid('session-row')}`).first()
    await row.waitFor({ state: 'visible', timeout: STEP_MS })
    sizes.rename = await size(row.locator(tid('session-rename')))
    sizes.pin = await size(row.locator(tid('session-pin')))
    await shot(phone, '07b-phone-drawer-zh')
    await phone.locator('.el-drawer__close-btn').click()
    await phone.locator('.el-drawer').waitFor({ state: 'hidden', timeout: STEP_MS })

    await phone.locator(tid('share-open')).click()
    await phone.locator(tid('share-item')).first().waitFor({ timeout: STEP_MS })
    sizes.revoke = await size(phone.locator(tid('share-revoke')).first())
    await shot(phone, '07c-phone-share-zh')
    await phone.locator(tid('share-dialog')).click({ position: { x: 5, y: 5 } })
    await phone.locator(tid('share-dialog')).waitFor({ state: 'detached' })

    const desk = page.locator(tid('turn')).nth(1)
    const desktop = {
      edit: await size(desk.locator(tid('edit-question'))),
      questionPrev: await size(desk.locator(`${tid('question-nav')} ${tid('sibling-prev')}`)),
    }
    return { sizes, composerPx, width, desktop, footer: answerFooter, overflow }
  })

  // The same page on a phone with a notch and a home indicator (Chromium's safe-area override): the
  // header, the tab bar and the drawer pad for them; then the turn in English.
  await step('on a phone the notch and home indicator are padded for; the turn in English', async () => {
    const cdp = await phone.context().newCDPSession(phone)
    await cdp.send('Emulation.setSafeAreaInsetsOverride', { insets: { top: 47, bottom: 34, left: 0, right: 0 } })
    const padding = (selector, side) => phone.locator(selector).first().evaluate((el, side) => parseFloat(getComputedStyle(el)[side]), side)
    const insets = {
      header: await padding('header', 'paddingTop'),
      tabbar: await padding(tid('tabbar'), 'paddingBottom'),
    }
    await shot(phone, '07d-phone-safe-area-zh')
    await phone.locator(tid('open-sessions')).click()
    await phone.locator(`.el-drawer ${tid('session-row')}`).first().waitFor({ state: 'visible', timeout: STEP_MS })
    insets.drawerTop = await padding('.el-drawer', 'paddingTop')
    insets.drawerBottom = await padding('.el-drawer', 'paddingBottom')
    await phone.locator('.el-drawer__close-btn').click()
    await phone.locator('.el-drawer').waitFor({ state: 'hidden', timeout: STEP_MS })
    await cdp.send('Emulation.setSafeAreaInsetsOverride', { insets: {} })

    await phone.locator(tid('lang-toggle')).click()
    const second = phone.locator(tid('turn')).nth(1)
    await expectText(second.locator(tid('edit-question')), /Edit/)
    await second.locator(tid('question')).scrollIntoViewIfNeeded()
    const width = await phone.evaluate(() => document.documentElement.scrollWidth)
    const row = await footer(second)
    await second.locator(tid('copy-answer')).scrollIntoViewIfNeeded()
    const overflow = await sideways(phone)
    await shot(phone, '07e-phone-turn-en')
    await phone.context().close()
    return { insets, width, footer: row, overflow }
  })

  // Every view the owner opens, on the narrowest phone in common use (360px), in both languages:
  // nothing reaches past the screen's edge or scrolls sideways unless it is meant to, and the app
  // header's buttons do not wrap their words; nor does a question with a long link.
  await step('every view fits a 360px phone, in Chinese and in English', async () => {
    const small = await newPage('owner-360', { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true })
    await login(small, { email: result.user.email, password: PASSWORD })
    const views = [
      ['chat', `/?s=${result.sessionId}`, tid('turn')],
      ['history', '/history', tid('history-session')],
      ['roles', '/roles', tid('role-card')],
      ['profile', '/profile', tid('profile-card')],
      ['usage', '/usage', tid('usage-plan')],
      ['keys', '/keys', tid('key-create')],
      ['shared', `/s/${result.shareToken}`, tid('shared-message')],
    ]
    const found = {}
    for (const language of ['zh', 'en']) {
      if (language === 'en') await small.locator(tid('lang-toggle')).click()
      for (const [name, path, ready] of views) {
        await small.goto(`${WEB_URL}${path}`)
        await small.locator(ready).first().waitFor({ timeout: STEP_MS })
        const overflow = await sideways(small)
        if (overflow.length) found[`${name} (${language})`] = overflow
        // The app header's controls keep their words on one line (44px tall, not a wrapped 52).
        const wrapped = await small.locator('header button, header a').evaluateAll((items) =>
          items.filter((el) => el.getBoundingClientRect().height > 45).map((el) => el.dataset.testid ?? el.textContent.trim()),
        )
        if (wrapped.length) found[`${name} header (${language})`] = wrapped
        await shot(small, `07f-360-${name}-${language}`)
      }
    }
    // A question holding a long unbroken link, in a new chat: it wraps inside its bubble (the bubble
    // was as wide as the link, its start past the screen's left edge, where no scrolling reaches).
    await small.goto(`${WEB_URL}/`)
    await small.locator(tid('composer')).fill(`Look at https://example.com/${'verylongpath'.repeat(12)}/end`)
    await small.locator(tid('send')).click()
    await final(small.locator(tid('turn')).first())
    const overflow = await sideways(small)
    if (overflow.length) found['a long link (en)'] = overflow
    await shot(small, '07f-360-long-link-en')
    await small.context().close()
    return { overflow: found }
  })

  await step('revoke the link: it no longer opens', async () => {
    await page.locator(tid('share-revoke')).first().click()
    await page.locator(tid('share-item')).first().waitFor({ state: 'detached', timeout: STEP_MS })
    const stranger = await newPage('stranger-after')
    await stranger.goto(`${WEB_URL}/s/${result.shareToken}`)
    await stranger.locator(tid('share-missing')).waitFor({ timeout: STEP_MS })
    await shot(stranger, '08-revoked')
    await stranger.context().close()
    await page.locator(tid('share-dialog')).click({ position: { x: 5, y: 5 } })
    await page.locator(tid('share-dialog')).waitFor({ state: 'detached' })
  })

  await step('reload while an answer is written: it continues, every character once', async () => {
    const before = await page.locator(tid('turn')).count()
    await page.locator(tid('composer')).fill('讲一个很长的故事')
    await page.locator(tid('send')).click()
    const turn = page.locator(tid('turn')).nth(before)
    await expectText(turn.locator(tid('answer-text')), /.{20,}/s)
    const partial = (await turn.locator(tid('answer-text')).textContent()) ?? ''
    await page.reload()
    const again = page.locator(tid('turn')).nth(before)
    await again.waitFor({ timeout: STEP_MS })
    const afterReload = (await again.locator(tid('answer-text')).textContent().catch(() => '')) ?? ''
    const wasFinal = (await again.getAttribute('data-final')) === 'true'
    await shot(page, '09-resumed-mid-answer')
    await final(again)
    const text = (await again.locator(tid('answer-text')).textContent()) ?? ''
    await shot(page, '10-resumed-final')
    // The same answer read afresh from the database, rendered the same way: nothing missing, nothing twice.
    await page.reload()
    const stored = (await page.locator(tid('turn')).nth(before).locator(tid('answer-text')).textContent()) ?? ''
    result.resumed = { partial: partial.length, afterReload: afterReload.length, wasFinal, same: text === stored }
    if (text !== stored) throw new Error(`the resumed answer differs from the stored one:\n${text}\n---\n${stored}`)
    return result.resumed
  })

  await step('pin the chat and rename it inline', async () => {
    const row = page.locator(`${tid('session-row')}:has([data-session-id="${result.sessionId}"])`).first()
    await row.locator(tid('session-pin')).click()
    await page.locator(`${tid('session-row')}[data-pinned="true"]`).first().waitFor({ timeout: STEP_MS })
    const firstId = await page.locator(tid('session-item')).first().getAttribute('data-session-id')
    if (firstId !== result.sessionId) throw new Error('the pinned chat is not first')
    await row.locator(tid('session-rename')).click()
    await page.locator(tid('rename-input')).fill('我的杭州之行')
    await page.locator(tid('rename-input')).press('Enter')
    await expectText(page.locator(`[data-session-id="${result.sessionId}"]`).first(), /我的杭州之行/)
    await shot(page, '11-pinned-renamed')
  })

  await step('delete a turn: its answer goes, the turns after it stay, also when the answer is lost', async () => {
    await page.locator(tid('new-chat')).first().click()
    await page.locator(tid('chat-empty')).waitFor({ timeout: STEP_MS }) // the chat left had turns (ask counts them)
    for (const text of ['第一问：西湖', '第二问：灵隐寺', '第三问：龙井']) await ask(page, text)
    result.deletedIn = new URL(page.url()).searchParams.get('s')
    const deletes = await failNext(page, /\/rest\/v1\/chat_messages\?/, 'lost', 'DELETE')
    let answered = 0 // DELETEs whose response reached the page: the lost one's does not
    const counting = (response) => {
      if (response.request().method() === 'DELETE' && /\/rest\/v1\/chat_messages\?/.test(response.url())) answered += 1
    }
    page.on('response', counting)
    await page.locator(tid('turn')).nth(1).locator(tid('delete-turn')).click()
    await page.click('.el-message-box__btns .el-button--primary')
    const questions = page.locator(tid('question'))
    const deadline = Date.now() + STEP_MS
    while ((answered === 0 || (await questions.count()) !== 2) && Date.now() < deadline) await pause(50)
    page.off('response', counting)
    const shown = (await questions.allTextContents()).map((q) => q.trim())
    const sent = await deletes()
    await noErrorToast(page, 'delete')
    await shot(page, '12-turn-deleted')
    await page.reload()
    await page.locator(tid('turn')).nth(1).waitFor({ timeout: STEP_MS })
    const reloaded = (await questions.allTextContents()).map((q) => q.trim())
    return { shown, reloaded, sent }
  })

  // The owner's other browser (another device) follows what is deleted and made here, with no reload:
  // Realtime hears no filtered DELETE, so the database broadcasts deletes (and creations) on private channels.
  await step("a turn and a chat deleted here leave the owner's other browser at once, a chat made joins it", async () => {
    await page.locator(tid('new-chat')).first().click()
    await page.locator(tid('chat-empty')).waitFor({ timeout: STEP_MS }) // the chat left had turns (ask counts them)
    for (const text of ['另一问：断桥', '再一问：雷峰塔']) await ask(page, text)
    const chatId = new URL(page.url()).searchParams.get('s')
    const other = await newPage('owner-other-browser')
    await login(other, { email: result.user.email, password: PASSWORD })
    await other.goto(`${WEB_URL}/?s=${chatId}`)
    const questions = other.locator(tid('question'))
    await questions.nth(1).waitFor({ timeout: STEP_MS })
    const listed = other.locator(`[data-session-id="${chatId}"]`)
    await listed.first().waitFor({ timeout: STEP_MS })
    await page.locator(tid('turn')).nth(0).locator(tid('delete-turn')).click()
    await page.click('.el-message-box__btns .el-button--primary')
    const deadline = Date.now() + STEP_MS
    while ((await questions.count()) !== 1 && Date.now() < deadline) await pause(50)
    const turnLeft = (await questions.allTextContents()).map((q) => q.trim())
    // A request as another device makes it (REST, with this page's token).
    const rest = (method, path, body) =>
      page.evaluate(
        async ([method, path, body]) => {
          const config = window.__CHATGALAXY_CONFIG__
          const stored = JSON.parse(localStorage.getItem('chatgalaxy-auth') ?? 'null') // lib/supabase.ts storageKey
          const answer = await fetch(`${config.supabaseUrl}/rest/v1/${path}`, {
            method,
            headers: { apikey: config.supabaseAnonKey, Authorization: `Bearer ${stored.access_token}`, 'Content-Type': 'application/json' },
            body: body ? JSON.stringify(body) : undefined,
          })
          return answer.status
        },
        [method, path, body],
      )
    // A chat created elsewhere joins the other browser's list, with no reload (sessions_created).
    const madeId = crypto.randomUUID()
    const made = await rest('POST', 'chat_sessions', { id: madeId })
    await other.locator(`[data-session-id="${madeId}"]`).first().waitFor({ timeout: STEP_MS })
    const createdListed = await other.locator(`[data-session-id="${madeId}"]`).count()
    // The chat deleted as another device deletes it: its REST DELETE.
    const deleted = await rest('DELETE', `chat_sessions?id=eq.${chatId}`)
    await other.locator(tid('chat-not-found')).waitFor({ timeout: STEP_MS })
    const stillListed = await listed.count()
    await shot(other, '12b-deleted-elsewhere')
    await other.context().close()
    return { turnLeft, made, createdListed, deleted, stillListed }
  })

  await step('a search hit on a branch not shown opens that branch, at the message', async () => {
    // '推荐三个景点' was edited into '推荐三家餐厅' (the branch shown since): its hit opens the chat on it.
    await page.goto(`${WEB_URL}/history`)
    await page.locator(tid('search-input')).fill('三个景点')
    await page.locator(tid('search-submit')).click()
    const hit = page.locator(tid('search-hit')).filter({ hasText: '推荐三个景点' }).first()
    await hit.waitFor({ timeout: STEP_MS })
    const stored = page
      .waitForResponse((r) => r.url().includes('/rest/v1/chat_sessions') && r.request().method() === 'PATCH', {
        timeout: STEP_MS,
      })
      .catch(() => null) // none: said below, not an unhandled rejection that ends the journey
    await hit.click()
    await page.waitForURL((url) => url.searchParams.get('s') === result.sessionId && !url.searchParams.has('m'), {
      timeout: STEP_MS,
    })
    const second = page.locator(tid('turn')).nth(1)
    await expectText(second.locator(tid('question')), /推荐三个景点/)
    await expectText(position(second, 'question-nav'), /1 \/ 2/)
    const update = await stored
    if (!update?.ok()) throw new Error(`storing the branch failed: ${update ? update.status() : 'never sent'}`)
    const inView = await second.evaluate((el) => {
      const pane = el.closest('[data-testid="messages"]').getBoundingClientRect()
      const box = el.getBoundingClientRect()
      return box.top >= pane.top - 1 && box.top < pane.bottom
    })
    if (!inView) throw new Error('the hit is not in view')
    await shot(page, '13-search-hit-on-its-branch')
    return { turns: await page.locator(tid('turn')).count(), inView }
  })
})
