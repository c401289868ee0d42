// Browser journey of the Auth features (issue 12): a guest tries the product, chats, signs up and
// keeps the conversation; then two-factor sign-in is turned on from the profile page and asked for
// at the next sign-in (the codes are computed here from the secret the page shows, like an app). tests/e2e/test_auth_flows.py runs it and checks the database.
// Env: see harness.mjs. Extra result fields: {guest: {email, username, probe}, mfa: {secret}}.
import { TAG, STEP_MS, WEB_URL, expectText, journey, pause, result, shot, step, tid, totp, PASSWORD } from './harness.mjs'

Object.assign(result, { guest: { email: `guest-${TAG}@example.com`, username: `guest_${TAG}`, probe: `guestprobe${TAG}` } })

/** Ask a question and wait for its answer to be final. */
async function ask(page, text) {
  const before = await page.locator(tid('turn')).count()
  await page.locator(tid('composer')).fill(text)
  await page.locator(tid('send')).click()
  const turn = page.locator(tid('turn')).nth(before)
  await turn.waitFor({ timeout: STEP_MS })
  const deadline = Date.now() + STEP_MS
  while ((await turn.getAttribute('data-final')) !== 'true') {
    if (Date.now() > deadline) throw new Error('the answer never became final')
    await pause(50)
  }
  return turn.getAttribute('data-status')
}

await journey(async ({ newPage }) => {
  const page = await newPage('guest')

  await step('a visitor tries the product without an account', async () => {
    await page.goto(`${WEB_URL}/login`)
    await page.locator(tid('try-guest')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('composer')).waitFor({ timeout: STEP_MS })
    const left = await expectText(page.locator(tid('guest-left')), /20/)
    await shot(page, 'guest-01-banner')
    return { left }
  })

  await step('the guest chats and the banner counts down', async () => {
    const status = await ask(page, `Hello as a guest ${result.guest.probe}`)
    if (status !== 'completed') throw new Error(`the answer ended ${status}`)
    const left = await expectText(page.locator(tid('guest-left')), /19/)
    await shot(page, 'guest-02-chatting')
    return { left }
  })

  await step('the guest signs up and keeps the conversation', async () => {
    await page.locator(tid('guest-signup')).click()
    await page.waitForURL(`${WEB_URL}/register`, { timeout: STEP_MS })
    await expectText(page.locator('h1'), /注册以保留对话/)
    await page.locator(tid('username')).fill(result.guest.username)
    await page.locator(tid('username-free')).waitFor({ timeout: STEP_MS })
    await page.locator(tid('email')).fill(result.guest.email)
    await page.locator(tid('password')).fill(PASSWORD)
    await page.locator(tid('confirm')).fill(PASSWORD)
    await shot(page, 'guest-03-sign-up')
    await page.locator(tid('submit')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('guest-banner')).waitFor({ state: 'detached', timeout: STEP_MS })
    // The chat from before signing up is in the list and opens with its question.
    await page.locator(tid('session-item')).first().click()
    await expectText(page.locator(tid('messages')), new RegExp(result.guest.probe))
    await shot(page, 'guest-04-kept')
  })

  await step('turn on two-factor sign-in from the profile page', async () => {
    await page.goto(`${WEB_URL}/profile`)
    await page.locator(tid('mfa-enable')).click()
    await page.locator(tid('mfa-qr')).waitFor({ timeout: STEP_MS })
    const secret = ((await page.locator(tid('mfa-secret')).textContent()) ?? '').trim()
    if (!/^[A-Z2-7]{32}$/.test(secret)) throw new Error(`unexpected secret ${secret}`)
    const qr = await page.locator(tid('mfa-qr')).getAttribute('src')
    if (!qr?.startsWith('data:image/svg+xml')) throw new Error(`the QR code is not an SVG data URI: ${qr?.slice(0, 40)}`)
    const drawn = await page.locator(tid('mfa-qr')).evaluate((img) => img.complete && img.naturalWidth > 0)
    if (!drawn) throw new Error('the QR code image does not render')
    await page.locator(tid('mfa-card')).evaluate((card) => card.scrollIntoView({ block: 'center' }))
    await shot(page, 'mfa-01-scan')
    await page.locator(tid('mfa-enrol-code')).fill(totp(secret))
    await page.locator(tid('mfa-confirm')).click()
    await page.locator(tid('mfa-status-on')).waitFor({ timeout: STEP_MS })
    await shot(page, 'mfa-02-on')
    result.mfa = { secret }
  })

  await step('signing in again asks for the code', async () => {
    await page.locator(tid('logout')).click()
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
    await page.locator(tid('email')).fill(result.guest.email)
    await page.locator(tid('password')).fill(PASSWORD)
    await page.locator(tid('submit')).click()
    await page.locator(tid('mfa-code')).waitFor({ timeout: STEP_MS })
    // The app's pages stay closed until the code is in, even by address.
    await page.goto(`${WEB_URL}/history`)
    await page.locator(tid('mfa-code')).waitFor({ timeout: STEP_MS })
    await shot(page, 'mfa-03-code')
    // Not signed in yet (aal1): the header is a visitor's, the code page's own link is the way out.
    const header = {}
    for (const id of ['header-avatar', 'logout', 'nav', 'mfa-other-account']) header[id] = await page.locator(tid(id)).count()
    // A wrong code: the code of none of the steps it may be checked at (Auth takes the step before and
    // after its own, and its own may be the next by then). '000000' was checked against this step's alone.
    const taken = [-30_000, 0, 30_000, 60_000].map((by) => totp(result.mfa.secret, Date.now() + by))
    await page.locator(tid('mfa-code')).fill(['000000', '111111', '222222', '333333'].find((code) => !taken.includes(code)))
    await page.locator(tid('mfa-submit')).click()
    const wrong = await expectText(page.locator(tid('auth-error')), /验证码不正确/)
    await page.locator(tid('mfa-code')).fill(totp(result.mfa.secret))
    await page.locator(tid('mfa-submit')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('composer')).waitFor({ timeout: STEP_MS })
    const signedIn = { avatar: await page.locator(tid('header-avatar')).count(), logout: await page.locator(tid('logout')).count() }
    return { wrong, header, signedIn }
  })

  await step('a guest on a phone sees the banner in English, and no key form', async () => {
    const phone = await newPage('guest-phone', { viewport: { width: 390, height: 844 }, locale: 'en-US', isMobile: true })
    await phone.goto(`${WEB_URL}/login`)
    await phone.evaluate(() => localStorage.setItem('chatgalaxy-locale', 'en'))
    await phone.reload()
    await expectText(phone.locator(tid('try-guest')), /Try without an account/)
    await phone.locator(tid('try-guest')).click()
    await phone.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await expectText(phone.locator(tid('guest-banner')), /guest/)
    await shot(phone, 'guest-05-phone')
    // Guests make no API keys (create_api_key refuses them): the keys page says so instead of a form.
    await phone.goto(`${WEB_URL}/keys`)
    const notice = await expectText(phone.locator(tid('keys-guest')), /Guests have no API keys/)
    const form = await phone.locator(tid('key-create')).count()
    await shot(phone, 'guest-06-keys-phone')
    return { notice, form }
  })
})
