// The shared harness of the browser journeys: each web/e2e/<feature>.mjs imports it, runs its steps
// in Debian's Chromium through playwright-core, and prints one JSON result on the last line of stdout.
// tests/e2e/conftest.py `start_journey` runs such a file against the session's product and reads it.
//
// Env: WEB_URL (the SPA), CHROMIUM_PATH (default /usr/bin/chromium), SCREENSHOT_DIR, E2E_TAG (makes
// names unique), E2E_STEP_TIMEOUT_MS. A journey:
//
//   import { journey, step, shot, tid, WEB_URL } from './harness.mjs'
//   await journey(async ({ browser, newPage }) => {
//     const page = await newPage('alice')
//     await step('the page shows up', async () => { await page.goto(WEB_URL); await shot(page, 'first') })
//   })
//
// The result is {ok, steps: [{name, ok, ms, detail?|error?}], problems, ...extra}; a failed step ends
// the journey (later steps are "not reached"), an uncaught page error or CSP violation fails it, and
// the process exits 1 when anything failed.
import { chromium } from 'playwright-core'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createHmac } from 'node:crypto'

export const WEB_URL = (process.env.WEB_URL ?? 'http://127.0.0.1:3000').replace(/\/$/, '')
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const SHOTS = process.env.SCREENSHOT_DIR ?? 'screenshots'
export const TAG = process.env.E2E_TAG ?? Math.random().toString(36).slice(2, 8)
export const STEP_MS = Number(process.env.E2E_STEP_TIMEOUT_MS ?? 30000)

/** The journey's result, printed as JSON at the end; journeys add their own fields to it. */
export const result = { ok: true, steps: [], problems: [] }

/** A CSS selector for a `data-testid`. */
export const tid = (id) => `[data-testid="${id}"]`

export const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** A phone's page options (an iPhone-sized touch screen). */
/** The password of every account a journey makes. */
export const PASSWORD = 'galaxy2024pw'

export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }

/** What a phone's screen shows sideways beyond its width: the document wider than the screen, and every
 *  box that scrolls or is clipped sideways without being meant to. Each view is its own vertical
 *  scroller (overflow-y-auto, which lets it scroll sideways too) inside a clipping <main>, so the
 *  document's scrollWidth alone never sees a view wider than the screen. Meant to scroll sideways:
 *  boxes that say so (overflow-x-auto), an answer's tables, code and display maths. */
export async function sideways(page) {
  return page.evaluate(() => {
    const meant = '.overflow-x-auto, .markdown table, .markdown pre code, .katex-display'
    const width = document.documentElement.clientWidth
    const name = (el) => el.getAttribute('data-testid') || `${el.tagName.toLowerCase()}.${String(el.className).trim().split(/\s+/).slice(0, 4).join('.')}`
    const found = []
    if (document.documentElement.scrollWidth > width + 1) found.push({ box: 'document', by: document.documentElement.scrollWidth - width })
    for (const el of document.querySelectorAll('body *')) {
      if (el.closest(meant)) continue
      const style = getComputedStyle(el)
      if (['auto', 'scroll'].includes(style.overflowX) && el.scrollWidth > el.clientWidth + 1) {
        found.push({ box: name(el), by: el.scrollWidth - el.clientWidth })
        continue
      }
      const rect = el.getBoundingClientRect()
      if (rect.width > 0 && rect.height > 0 && style.visibility !== 'hidden' && (rect.right > width + 1 || rect.left < -1)) {
        found.push({ box: name(el), by: Math.round(Math.max(rect.right - width, -rect.left)) })
      }
    }
    return found.slice(0, 8)
  })
}

/** The sign-up form filled in as `user` ({ username, email }, PASSWORD) and sent, once the name is
 * known to be free; the caller waits for what follows (the chat, or the check-your-mailbox page). */
export async function signUp(page, user) {
  await page.goto(`${WEB_URL}/register`)
  await page.locator(tid('username')).fill(user.username)
  await page.locator(tid('username-free')).waitFor({ timeout: STEP_MS })
  await page.locator(tid('email')).fill(user.email)
  await page.locator(tid('password')).fill(PASSWORD)
  await page.locator(tid('confirm')).fill(PASSWORD)
  await page.locator(tid('submit')).click()
}

/** Sign in through the login page; resolves once the app has left it. */
export async function login(page, user) {
  await page.goto(`${WEB_URL}/login`)
  await page.fill(tid('email'), user.email)
  await page.fill(tid('password'), user.password)
  await page.click(tid('submit'))
  await page.waitForURL((url) => !url.pathname.startsWith('/login'), { timeout: STEP_MS })
}

/** Whether Auth still holds the session the page stored (GET /auth/v1/user with its access token:
 * a session ended elsewhere is refused even while its token has not expired). */
export async function sessionLive(page) {
  return page.evaluate(async () => {
    const config = window.__CHATGALAXY_CONFIG__
    const stored = JSON.parse(localStorage.getItem('chatgalaxy-auth') ?? 'null') // lib/supabase.ts storageKey
    if (!stored?.access_token) return false
    const answer = await fetch(`${config.supabaseUrl}/auth/v1/user`, {
      headers: { apikey: config.supabaseAnonKey, Authorization: `Bearer ${stored.access_token}` },
    })
    return answer.ok
  })
}

/** The answer turn once its row is final (`data-final`), within a step's time. */
export async function final(turn) {
  const deadline = Date.now() + STEP_MS
  while ((await turn.getAttribute('data-final')) !== 'true') {
    if (Date.now() > deadline) throw new Error('the answer never became final')
    await pause(40)
  }
  return turn
}

/** Run one named step; its return value is kept as `detail`, a throw fails it and ends the journey. */
export async function step(name, fn) {
  const started = Date.now()
  try {
    const detail = await fn()
    result.steps.push({ name, ok: true, ms: Date.now() - started, ...(detail ? { detail } : {}) })
    return detail
  } catch (error) {
    result.ok = false
    result.steps.push({ name, ok: false, ms: Date.now() - started, error: String(error?.stack ?? error) })
    throw error
  }
}

/** A screenshot of the viewport, SCREENSHOT_DIR/<name>.png. */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true })
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false })
}

/** Uncaught errors and CSP violations fail the run; other console errors are reported. */
export function watch(page, who) {
  page.on('pageerror', (error) => result.problems.push({ who, kind: 'pageerror', text: String(error) }))
  page.on('console', (message) => {
    if (message.type() === 'error') result.problems.push({ who, kind: 'console', text: message.text() })
  })
}

/**
 * Realtime frames seen by a page on the private chat channels: `frames.chunk`, `frames.done` and the
 * `frames.topics` seen. Pass the same object for several pages to count them together.
 */
export function watchFrames(page, frames = { chunk: 0, done: 0, topics: new Set() }) {
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('latin1')
      const topic = /realtime:chat:[0-9a-f-]{36}/.exec(text)
      if (!topic) return
      frames.topics.add(topic[0])
      if (text.includes('chunk')) frames.chunk += 1
      if (text.includes('"done"') || /\bdone\b/.test(text)) frames.done += 1
    })
  })
  return frames
}

/**
 * The network fails the page's next `method` request (POST by default) to a URL matching
 * `pattern`: 'lost' lets it reach the server (and be stored) and then drops the response;
 * 'dropped' drops it before it is sent. The page cannot tell which. Returns a function that stops
 * interfering and resolves to the number of such requests the page made meanwhile.
 */
export async function failNext(page, pattern, fate, method = 'POST') {
  const seen = { requests: 0 }
  const handler = async (route) => {
    if (route.request().method() !== method || seen.requests++ > 0) return route.fallback()
    if (fate === 'lost') await route.fetch()
    return route.abort('connectionreset')
  }
  await page.route(pattern, handler)
  return async () => {
    await page.unroute(pattern, handler)
    return seen.requests
  }
}

/** Fails with the page's error toast, if one is showing; `what` names the moment in the message. */
export async function noErrorToast(page, what = '') {
  const toast = page.locator('.el-message--error')
  if (await toast.count()) throw new Error(`${what ? `${what}: ` : ''}${await toast.first().textContent()}`)
}

/** Wait until the locator's text matches `pattern`; returns the text. */
export async function expectText(locator, pattern, timeout = STEP_MS) {
  const deadline = Date.now() + timeout
  let text = ''
  while (Date.now() < deadline) {
    text = (await locator.textContent().catch(() => '')) ?? ''
    if (pattern.test(text)) return text
    await pause(50)
  }
  throw new Error(`expected ${pattern} in ${JSON.stringify(text.slice(0, 200))}`)
}

/** Debian's Chromium, headless, with the flags the product's browser tests use. */
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // playwright-core gives each launch a fresh temporary --user-data-dir.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/**
 * Launch the browser, run `body({browser, newPage})`, close it, print the result and exit (0 when
 * every step passed and no page failed). `newPage(who, options)` opens a watched page in a new context
 * (1280x800, zh-CN unless `options` say otherwise).
 */
export async function journey(body) {
  const browser = await launch()
  const newPage = async (who, options = {}) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN', ...options })
    const page = await context.newPage()
    watch(page, who)
    return page
  }
  try {
    await body({ browser, newPage })
  } catch (error) {
    // A failed step is recorded already; anything else thrown outside a step is recorded here.
    if (result.ok) {
      result.ok = false
      result.steps.push({ name: 'journey', ok: false, error: String(error?.stack ?? error) })
    }
  } finally {
    await browser.close()
  }
  const fatal = result.problems.filter((p) => p.kind === 'pageerror' || /Content Security Policy|Refused to/.test(p.text))
  if (fatal.length > 0) {
    result.ok = false
    result.steps.push({ name: 'no uncaught errors or CSP violations', ok: false, error: JSON.stringify(fatal) })
  }
  console.log(JSON.stringify(result))
  process.exit(result.ok ? 0 : 1)
}

/** The RFC 6238 code for a base32 secret (30 s steps, 6 digits, SHA-1) at `at` (now: as an app shows it). */
export function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const char of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(char).toString(2).padStart(5, '0')
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)))
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)))
  const mac = createHmac('sha1', key).update(counter).digest()
  const offset = mac[mac.length - 1] & 0xf
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0')
}
