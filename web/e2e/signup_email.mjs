// E-mail verification in the browser, with the product's config.toml (confirmations on): sign up,
// "check your mailbox", resend, a refused early login, the local mailbox page, the link that
// confirms and signs in, a password reset through the mailbox, a change of address confirmed from
// both addresses, a reset with two-factor sign-in on (the code asked first), a used link refused,
// and on a phone the small text buttons of those pages (resend, back to sign-in, use another
// account) finger-sized.
//
// Env: see harness.mjs, plus MAILBOX_URL (the local mailbox). tests/e2e/test_signup_email.py runs it.
import { PHONE, TAG, STEP_MS, WEB_URL, expectText, journey, result, shot, step, tid, totp, PASSWORD, signUp } from './harness.mjs'

const MAILBOX = (process.env.MAILBOX_URL ?? 'http://127.0.0.1:54324').replace(/\/$/, '')
const NEW_PASSWORD = 'nebula2025pw'
const THIRD_PASSWORD = 'comet2026pw'
const user = { username: `mail_${TAG}`, email: `mail-${TAG}@example.com` }
const MOVED_TO = `moved-${TAG}@example.com`
Object.assign(result, { user, movedTo: MOVED_TO })
const literally = (text) => new RegExp(text.replace(/[.]/g, '\\.'))

/** Open the mailbox page and follow the newest mail's link to `email`: {link, mails to them}. */
async function followNewestLink(page, email, shotName = null) {
  await page.goto(MAILBOX)
  const rows = page.locator(tid('mail-row'), { hasText: email })
  const row = rows.first()
  await row.waitFor({ timeout: STEP_MS })
  const mails = await rows.count()
  if (shotName) await shot(page, shotName)
  const link = await row.locator(tid('mail-link')).getAttribute('href')
  await row.locator(tid('mail-link')).click()
  await page.waitForURL(/\/auth\/callback/, { timeout: STEP_MS })
  return { link, mails }
}

/** The size on `page` of each control named (by data-testid): {name: [width, height]}. */
async function sizes(page, names) {
  const found = {}
  for (const name of names) {
    const box = await page.locator(tid(name)).boundingBox()
    found[name] = box ? [Math.round(box.width), Math.round(box.height)] : null
  }
  return found
}

await journey(async ({ newPage }) => {
  const page = await newPage('mail')
  let confirmLink = null

  await step('sign-up says check your mailbox', async () => {
    await signUp(page, user)
    await expectText(page.locator(tid('check-mailbox')), literally(user.email))
    await expectText(page.locator('h1'), /请查收邮件/)
    await shot(page, '01-check-mailbox')
  })

  await step('resend mails the link again', async () => {
    await page.locator(tid('resend')).click()
    await page.locator(tid('resent')).waitFor({ timeout: STEP_MS })
  })

  await step('logging in before confirming says to confirm first', async () => {
    await page.goto(`${WEB_URL}/login`)
    await page.locator(tid('email')).fill(user.email)
    await page.locator(tid('password')).fill(PASSWORD)
    await page.locator(tid('submit')).click()
    await expectText(page.locator(tid('check-mailbox')), /请先确认邮箱/)
    if (page.url() !== `${WEB_URL}/login`) throw new Error(`left the login page: ${page.url()}`)
    await shot(page, '02-login-unconfirmed')
  })

  await step('the mailbox link confirms the address and signs in', async () => {
    const { link, mails } = await followNewestLink(page, user.email, '03-mailbox')
    if (mails !== 2) throw new Error(`expected the sign-up mail and its resend, found ${mails}`)
    confirmLink = link
    await page.locator(tid('email-confirmed')).waitFor({ timeout: STEP_MS })
    await expectText(page.locator('h1'), /邮箱已确认/)
    await shot(page, '04-email-confirmed')
    await page.locator(tid('continue')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('composer')).waitFor({ timeout: STEP_MS })
  })

  await step('a forgotten password is reset through the mailbox', async () => {
    await page.locator(tid('logout')).click()
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
    await page.locator(tid('to-forgot')).click()
    await page.waitForURL(`${WEB_URL}/forgot`, { timeout: STEP_MS })
    await page.locator(tid('email')).fill(user.email)
    await page.locator(tid('submit')).click()
    await page.locator(tid('reset-sent')).waitFor({ timeout: STEP_MS })
    await shot(page, '05-forgot')
    await followNewestLink(page, user.email)
    await page.locator(tid('new-password-form')).waitFor({ timeout: STEP_MS })
    await page.locator(tid('password')).fill(NEW_PASSWORD)
    await page.locator(tid('confirm')).fill(NEW_PASSWORD)
    await shot(page, '06-new-password')
    await page.locator(tid('submit')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('logout')).click()
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
    await page.locator(tid('email')).fill(user.email)
    await page.locator(tid('password')).fill(NEW_PASSWORD)
    await page.locator(tid('submit')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('logout')).click()
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
  })

  await step('a new address applies once the links to both addresses are followed', async () => {
    await page.locator(tid('email')).fill(user.email)
    await page.locator(tid('password')).fill(NEW_PASSWORD)
    await page.locator(tid('submit')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.goto(`${WEB_URL}/profile`)
    const form = page.locator(tid('email-form'))
    await form.locator(tid('new-email')).fill(user.email.toUpperCase())
    if (await form.locator(tid('email-save')).isEnabled()) throw new Error('the current address can be asked for again')
    await form.locator(tid('new-email')).fill(MOVED_TO)
    await form.locator(tid('email-save')).click()
    await expectText(form.locator(tid('check-mailbox')), literally(MOVED_TO))
    await shot(page, '08-email-change-mailed')
    // The new address's link first: it only counts, and says the other one is due.
    await followNewestLink(page, MOVED_TO)
    await page.locator(tid('one-of-two')).waitFor({ timeout: STEP_MS })
    await expectText(page.locator('h1'), /还差一步/)
    await shot(page, '09-email-change-one-of-two')
    await page.goto(`${WEB_URL}/profile`)
    await expectText(page.locator(tid('profile-email')), literally(user.email)) // not yet
    // Then the current address's: the change applies.
    const { mails } = await followNewestLink(page, user.email)
    if (mails !== 4) throw new Error(`expected sign-up, resend, reset and change mails to ${user.email}, found ${mails}`)
    await page.locator(tid('email-changed')).waitFor({ timeout: STEP_MS })
    await expectText(page.locator('h1'), /邮箱已更换/)
    await shot(page, '10-email-changed')
    await page.locator(tid('continue')).click()
    await page.waitForURL(`${WEB_URL}/profile`, { timeout: STEP_MS })
    await expectText(page.locator(tid('profile-email')), literally(MOVED_TO))
    await page.locator(tid('logout')).click()
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
    await page.locator(tid('email')).fill(MOVED_TO)
    await page.locator(tid('password')).fill(NEW_PASSWORD)
    await page.locator(tid('submit')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('logout')).click()
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
  })

  await step('with two-factor sign-in on, a reset link asks for the code with the new password', async () => {
    await page.locator(tid('email')).fill(MOVED_TO)
    await page.locator(tid('password')).fill(NEW_PASSWORD)
    await page.locator(tid('submit')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.goto(`${WEB_URL}/profile`)
    await page.locator(tid('mfa-enable')).click()
    await page.locator(tid('mfa-qr')).waitFor({ timeout: STEP_MS })
    const secret = ((await page.locator(tid('mfa-secret')).textContent()) ?? '').trim()
    await page.locator(tid('mfa-enrol-code')).fill(totp(secret))
    await page.locator(tid('mfa-confirm')).click()
    await page.locator(tid('mfa-status-on')).waitFor({ timeout: STEP_MS })
    await page.locator(tid('logout')).click()
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
    await page.locator(tid('to-forgot')).click()
    await page.waitForURL(`${WEB_URL}/forgot`, { timeout: STEP_MS }) // the login page has an email field too
    await page.locator(tid('email')).fill(MOVED_TO)
    await page.locator(tid('submit')).click()
    await page.locator(tid('reset-sent')).waitFor({ timeout: STEP_MS })
    await followNewestLink(page, MOVED_TO)
    const form = page.locator(tid('new-password-form'))
    await form.locator(tid('mfa-code')).waitFor({ timeout: STEP_MS }) // Auth changes it only at aal2
    await form.locator(tid('password')).fill(THIRD_PASSWORD)
    await form.locator(tid('confirm')).fill(THIRD_PASSWORD)
    await form.locator(tid('mfa-code')).fill(totp(secret))
    await shot(page, '11-reset-with-code')
    // Not signed in before the code: no sign-out in the header, the page's own way out instead.
    const header = { logout: await page.locator(tid('logout')).count(), out: await form.locator(tid('mfa-other-account')).count() }
    await form.locator(tid('submit')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('logout')).click()
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
    await page.locator(tid('email')).fill(MOVED_TO)
    await page.locator(tid('password')).fill(THIRD_PASSWORD)
    await page.locator(tid('submit')).click()
    await page.locator(tid('mfa-code')).fill(totp(secret))
    await page.locator(tid('mfa-submit')).click()
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('logout')).click()
    await page.waitForURL(`${WEB_URL}/login`, { timeout: STEP_MS })
    return { header }
  })

  await step('a used link says it no longer works (phone)', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(confirmLink)
    await page.waitForURL(/\/auth\/callback/, { timeout: STEP_MS })
    await page.locator(tid('link-invalid')).waitFor({ timeout: STEP_MS })
    await expectText(page.locator('h1'), /链接已失效/)
    await shot(page, '07-link-used-phone')
  })

  await step('on a touch screen the resend button and "use another account" are finger-sized', async () => {
    const phone = await newPage('mail-phone', PHONE)
    const late = { username: `late_${TAG}`, email: `late-${TAG}@example.com` }
    await signUp(phone, late)
    await expectText(phone.locator(tid('check-mailbox')), literally(late.email))
    const signup = await sizes(phone, ['resend'])
    // Signing in with the address not confirmed yet.
    await phone.goto(`${WEB_URL}/login`)
    await phone.locator(tid('email')).fill(late.email)
    await phone.locator(tid('password')).fill(PASSWORD)
    await phone.locator(tid('submit')).click()
    await expectText(phone.locator(tid('check-mailbox')), /请先确认邮箱/)
    const login = await sizes(phone, ['resend'])
    // The callback page of a used link, once it has mailed a new one.
    await phone.goto(confirmLink)
    await phone.locator(tid('link-invalid')).waitFor({ timeout: STEP_MS })
    await phone.locator(tid('email')).fill(late.email)
    await phone.locator(tid('ask-again')).click()
    await expectText(phone.locator(tid('check-mailbox')), literally(late.email))
    await shot(phone, '12-link-used-resent-phone')
    const callback = await sizes(phone, ['resend', 'to-login'])
    // Two-factor sign-in's code page.
    await phone.goto(`${WEB_URL}/login`)
    await phone.locator(tid('email')).fill(MOVED_TO)
    await phone.locator(tid('password')).fill(THIRD_PASSWORD)
    await phone.locator(tid('submit')).click()
    await phone.locator(tid('mfa-code')).waitFor({ timeout: STEP_MS })
    await shot(phone, '13-mfa-code-phone')
    const mfa = await sizes(phone, ['mfa-other-account'])
    await phone.locator(tid('mfa-other-account')).click()
    await phone.locator(tid('login-form')).waitFor({ timeout: STEP_MS })
    return { signup, login, callback, mfa }
  })
})
