// A persona switched off and on again (ai_roles.is_active): the owner switches their persona off in
// the roles page, which still lists it; the chat's picker leaves it out, and a chat bound to it says
// so (in English, and in Chinese on a phone) and sends nothing until another persona is picked or it
// is switched on again; a page that still offers it (switched off in another tab) has its question
// refused by the database with words, not answered by another persona. A persona's name is measured
// as it is kept, trimmed: 100 characters typed after a space are kept whole, 101 refused with words.
//
// Env: see harness.mjs, and E2E_USERS ({tag, owner: {email, password}}, made by
// tests/e2e/test_role_lifecycle.py, which checks the database for what the page showed).
import { PHONE, STEP_MS, WEB_URL, expectText, final, journey, login, result, shot, step, tid } from './harness.mjs'

const users = JSON.parse(process.env.E2E_USERS ?? '{}')
const name = `Sleeper ${users.tag}`
Object.assign(result, { sessionId: null, slug: null, name, longName: `Long ${'n'.repeat(89)}${users.tag}` })

/** The owner's card of the persona in the roles page. */
const card = (page) => page.locator(tid('my-role-card')).filter({ hasText: name })

async function toggle(page, wanted) {
  await page.goto(`${WEB_URL}/roles`)
  await card(page).waitFor({ timeout: STEP_MS })
  await card(page).locator(tid('my-role-toggle')).click()
  await expectText(card(page).locator(tid('my-role-toggle')), wanted)
}

await journey(async ({ newPage }) => {
  const page = await newPage('owner')
  await page.addInitScript(() => localStorage.setItem('chatgalaxy-locale', 'en'))

  await step('the owner chats with their persona', async () => {
    await login(page, users.owner)
    await page.goto(`${WEB_URL}/roles`)
    const form = page.locator(tid('role-form'))
    await form.locator(tid('role-name')).fill(name)
    await form.locator(tid('role-prompt')).fill('You answer sleepily.')
    await form.locator(tid('role-submit')).click()
    await card(page).waitFor({ timeout: STEP_MS })
    await card(page).getByRole('button', { name: 'Chat with it' }).click()
    await page.waitForURL((url) => url.searchParams.has('role'), { timeout: STEP_MS })
    result.slug = new URL(page.url()).searchParams.get('role')
    await page.locator(tid('composer')).fill('Are you awake?')
    await page.locator(tid('send')).click()
    const turn = page.locator(tid('turn')).first()
    await turn.waitFor({ timeout: STEP_MS })
    await final(turn)
    result.sessionId = new URL(page.url()).searchParams.get('s')
    return { byline: (await expectText(turn.locator(tid('answer-role')), new RegExp(name))).trim() }
  })

  await step('switched off in the roles page, it is still listed there, marked', async () => {
    await toggle(page, /Switch on/)
    const off = await expectText(card(page).locator(tid('my-role-off')), /Switched off/)
    const chatWith = await card(page).getByRole('button', { name: 'Chat with it' }).count()
    await shot(page, '01-roles-switched-off')
    return { off: off.trim(), chatWith }
  })

  await step('the picker leaves it out and its chat says so, sending nothing', async () => {
    await page.goto(`${WEB_URL}/?s=${result.sessionId}`)
    await page.locator(tid('turn')).first().waitFor({ timeout: STEP_MS })
    const notice = await expectText(page.locator(tid('chat-role-unavailable')), new RegExp(name))
    await page.locator(tid('role-assistant')).waitFor({ timeout: STEP_MS })
    const inPicker = await page.locator(tid(`role-${result.slug}`)).count()
    await page.locator(tid('composer')).fill('Still there?')
    const sendDisabled = await page.locator(tid('send')).isDisabled()
    await page.locator(tid('composer')).press('Enter')
    await shot(page, '02-chat-role-switched-off')
    return { notice: notice.trim(), inPicker, sendDisabled, turns: await page.locator(tid('turn')).count() }
  })

  await step('on a phone in Chinese, the chat says so in Chinese', async () => {
    const phone = await newPage('owner-phone', PHONE)
    await phone.addInitScript(() => localStorage.setItem('chatgalaxy-locale', 'zh-CN'))
    await login(phone, users.owner)
    await phone.goto(`${WEB_URL}/?s=${result.sessionId}`)
    const notice = await expectText(phone.locator(tid('chat-role-unavailable')), /已停用/)
    const width = await phone.evaluate(() => document.documentElement.scrollWidth)
    await shot(phone, '03-phone-zh-role-switched-off')
    await phone.context().close()
    return { notice: notice.trim(), width }
  })

  await step('switched on again, the chat goes on with it', async () => {
    await toggle(page, /Switch off/)
    await page.goto(`${WEB_URL}/?s=${result.sessionId}`)
    await page.locator(tid(`role-${result.slug}`)).waitFor({ timeout: STEP_MS })
    const notice = await page.locator(tid('chat-role-unavailable')).count()
    await page.locator(tid('composer')).fill('Awake now?')
    await page.locator(tid('send')).click()
    const turn = page.locator(tid('turn')).nth(1)
    await turn.waitFor({ timeout: STEP_MS })
    await final(turn)
    return { notice, byline: (await expectText(turn.locator(tid('answer-role')), new RegExp(name))).trim() }
  })

  await step('switched off in another tab, this page\'s question is refused with words', async () => {
    const other = await newPage('owner-other-tab')
    await other.addInitScript(() => localStorage.setItem('chatgalaxy-locale', 'en'))
    await login(other, users.owner)
    await toggle(other, /Switch on/)
    await other.context().close()
    await page.locator(tid('composer')).fill('One more?')
    await page.locator(tid('send')).click()
    const toast = await expectText(page.locator('.el-message--error').first(), /switched off or no longer exists/)
    const kept = await page.locator(tid('composer')).inputValue()
    await shot(page, '04-refused-switched-off-meanwhile')
    return { toast: toast.trim(), kept, turns: await page.locator(tid('turn')).count() }
  })

  await step('a name of 100 characters typed after a space is kept whole; 101 are refused with words', async () => {
    await page.goto(`${WEB_URL}/roles`)
    const form = page.locator(tid('role-form'))
    await form.locator(tid('role-name')).fill(`x${'n'.repeat(100)}`)
    await form.locator(tid('role-prompt')).fill('You have a long name.')
    await form.locator(tid('role-submit')).click()
    const refused = await expectText(form.locator(tid('role-name-error')), /100/)
    await shot(page, '05-name-too-long')
    await form.locator(tid('role-name')).fill(` ${result.longName}`)
    const typed = (await form.locator(tid('role-name')).inputValue()).length
    await form.locator(tid('role-submit')).click()
    await page.locator(tid('my-role-card')).filter({ hasText: result.longName }).waitFor({ timeout: STEP_MS })
    return { refused: refused.trim(), typed }
  })

  await step('picking another persona goes on with it', async () => {
    await page.goto(`${WEB_URL}/?s=${result.sessionId}`)
    await expectText(page.locator(tid('chat-role-unavailable')), new RegExp(name))
    await page.locator(tid('role-assistant')).click()
    const notice = await page.locator(tid('chat-role-unavailable')).count()
    await page.locator(tid('composer')).fill('One more?')
    await page.locator(tid('send')).click()
    const turn = page.locator(tid('turn')).nth(2)
    await turn.waitFor({ timeout: STEP_MS })
    await final(turn)
    return { notice, byline: (await expectText(turn.locator(tid('answer-role')), /Assistant/)).trim() }
  })
})
