// Browser journey for Qwen beyond plain text (issue 13): pick a model, switch deep thinking on and
// watch the reasoning stream then fold under "thought for N s", web search with numbered citations,
// a code block copied with its button, a formula typeset by KaTeX, the answer copied, images attached
// by the file picker and by paste (a wrong type refused before upload), the role editor's model
// settings (refused out of range), all in Chinese and English and on a phone.
//
// Env: see harness.mjs. Prints {ok, steps, user, sessionId, roleSlug, problems} on its last line;
// tests/e2e/test_qwen.py runs it and checks the database for what the page showed.
import { readFile } from 'node:fs/promises'
import { PASSWORD, TAG, STEP_MS, WEB_URL, expectText, final, journey, login, pause, result, shot, step, tid, signUp } from './harness.mjs'

// A 64x48 PNG, for the picker and the clipboard.
const PNG_B64 = 'iVBORw0KGgoAAAANSUhEUgAAAEAAAAAwCAIAAAAuKetIAAAAU0lEQVR4nO3PQQ3AIADAQEAnFrDPeyJ4XJb0FLTz7Dv+bOmAVw1oDWgNaA1oDWgNaA1oDWgNaA1oDWgNaA1oDWgNaA1oDWgNaA1oDWgNaA1oDWgfHRMCHxhOxWMAAAAASUVORK5CYII='
const PNG = Buffer.from(PNG_B64, 'base64')
Object.assign(result, { user: null, sessionId: null, roleSlug: null })

async function register(page) {
  const user = { username: `qwen_${TAG}`, email: `qwen-${TAG}@example.com` }
  await signUp(page, user)
  await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
  await page.locator(tid('composer')).waitFor()
  result.user = user
}

/** Send `text` and return the new turn once its answer is final. */
async function ask(page, text, { whileStreaming = null } = {}) {
  const before = await page.locator(tid('turn')).count()
  await page.locator(tid('composer')).fill(text)
  await page.locator(tid('send')).click()
  const turn = page.locator(tid('turn')).nth(before)
  await turn.waitFor({ timeout: STEP_MS })
  if (whileStreaming) await whileStreaming(turn)
  const deadline = Date.now() + STEP_MS
  while ((await turn.getAttribute('data-final')) !== 'true') {
    if (Date.now() > deadline) throw new Error('the answer never became final')
    await pause(40)
  }
  return turn
}

/** The animation now running on the turn's thinking icon (while it thinks) and on its answer's
 *  typing cursor (while it writes), each sampled as soon as it shows, until the answer is final. */
async function motionWhileStreaming(turn) {
  const seen = { icon: null, cursor: null }
  const deadline = Date.now() + STEP_MS
  while (Date.now() < deadline && (seen.icon === null || seen.cursor === null)) {
    const now = await turn.evaluate((el) => {
      const icon = el.querySelector('[data-testid="reasoning"][data-live="true"] [data-testid="reasoning-toggle"] > svg')
      const cursor = el.querySelector('.cursor-blink')
      return {
        icon: icon ? getComputedStyle(icon).animationName : null,
        cursor: cursor ? getComputedStyle(cursor.lastElementChild ?? cursor, '::after').animationName : null,
      }
    })
    seen.icon ??= now.icon
    seen.cursor ??= now.cursor
    if ((await turn.getAttribute('data-final')) === 'true') break
    await pause(30)
  }
  return seen
}

/** A new chat on `page` with qwen-plus thinking, `text` sent in it: its turn, still streaming. */
async function thinkingTurn(page, text) {
  await page.goto(`${WEB_URL}/`)
  await page.locator(`${tid('model-picker')} option[value="qwen-plus"]`).waitFor({ state: 'attached', timeout: STEP_MS })
  await page.locator(tid('model-picker')).selectOption('qwen-plus')
  if ((await page.locator(tid('thinking-toggle')).getAttribute('aria-pressed')) !== 'true') await page.locator(tid('thinking-toggle')).click()
  await page.locator(tid('composer')).fill(text)
  await page.locator(tid('send')).click()
  const turn = page.locator(tid('turn')).first()
  await turn.waitFor({ timeout: STEP_MS })
  return turn
}

await journey(async ({ newPage }) => {
  const page = await newPage('qwen', { permissions: ['clipboard-read', 'clipboard-write'] })

  await step('register and open a new chat', async () => {
    await register(page)
    await page.locator(`${tid('model-picker')} option`).nth(1).waitFor({ state: 'attached', timeout: STEP_MS })
  })

  await step('pick a model and switch deep thinking on', async () => {
    await page.locator(tid('model-picker')).selectOption('qwen-plus')
    await page.locator(tid('thinking-toggle')).click()
    if ((await page.locator(tid('thinking-toggle')).getAttribute('aria-pressed')) !== 'true') throw new Error('thinking is not on')
    // A model without thinking disables the switch and says why.
    await page.locator(tid('model-picker')).selectOption('qwen-vl-max')
    if (!(await page.locator(tid('thinking-toggle')).isDisabled())) throw new Error('thinking offered for qwen-vl-max')
    await page.locator(tid('model-picker')).selectOption('qwen-plus')
    await shot(page, '01-model-and-thinking')
  })

  await step('the reasoning streams live, then folds under "thought for N s"', async () => {
    const seen = { live: false, liveText: 0 }
    const turn = await ask(page, `Why is the sky blue? ${TAG}`, {
      whileStreaming: async (turn) => {
        const deadline = Date.now() + STEP_MS
        while (Date.now() < deadline) {
          const block = turn.locator(tid('reasoning'))
          if ((await block.count()) && (await block.getAttribute('data-live')) === 'true') {
            seen.live = true
            seen.liveText = ((await turn.locator(tid('reasoning-text')).textContent()) ?? '').length
            if (seen.liveText > 0 && (await turn.locator(tid('reasoning-text')).isVisible())) break
          }
          if ((await turn.getAttribute('data-final')) === 'true') break
          await pause(30)
        }
        await shot(page, '02-reasoning-streaming')
      },
    })
    if (!seen.live || seen.liveText === 0) throw new Error(`reasoning was not seen streaming: ${JSON.stringify(seen)}`)
    const block = turn.locator(tid('reasoning'))
    if ((await block.getAttribute('data-open')) !== 'false') throw new Error('the reasoning did not fold away')
    if (await turn.locator(tid('reasoning-text')).isVisible()) throw new Error('folded reasoning is still visible')
    const header = await expectText(turn.locator(tid('reasoning-header')), /已深度思考（用时 \d+ 秒）/)
    await shot(page, '03-reasoning-folded')
    await turn.locator(tid('reasoning-toggle')).click()
    if (!(await turn.locator(tid('reasoning-text')).isVisible())) throw new Error('the reasoning does not open')
    await shot(page, '04-reasoning-opened')
    result.sessionId = new URL(page.url()).searchParams.get('s')
    return { header, liveText: seen.liveText }
  })

  await step('web search answers with numbered citations linked to sources', async () => {
    await page.locator(tid('search-toggle')).click()
    const turn = await ask(page, `latest PostgreSQL release ${TAG}`)
    const cites = await turn.locator('a.citation').evaluateAll((links) => links.map((a) => [a.textContent, a.href]))
    const sources = await turn.locator(`${tid('sources')} a`).evaluateAll((links) => links.map((a) => a.href))
    if (sources.length !== 3) throw new Error(`sources: ${JSON.stringify(sources)}`)
    if (cites.length < 3 || !cites.every(([n, href]) => sources[Number(n) - 1] === href)) {
      throw new Error(`citations do not point at their sources: ${JSON.stringify(cites)}`)
    }
    await turn.locator(tid('sources')).scrollIntoViewIfNeeded()
    await shot(page, '05-citations')
    await page.locator(tid('search-toggle')).click() // search is per message: off again
    return { cites: cites.length }
  })

  await step('the conversation downloads as Markdown, thinking folded and sources linked', async () => {
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: STEP_MS }), page.locator(tid('export-chat')).click()])
    const text = await readFile(await download.path(), 'utf8')
    const turns = text.split('\n## 我\n').length - 1
    const sources = text.match(/^\d+\. \[.+\]\(https?:\/\/.+\)$/gm) ?? []
    const asked = await page.locator(tid('question')).allTextContents()
    if (!asked.every((q) => text.includes(q.trim()))) throw new Error(`questions missing from the file: ${JSON.stringify(asked)}`)
    const answers = await page.locator(tid('turn')).count()
    return {
      file: download.suggestedFilename().endsWith('.md'),
      turns: turns === answers,
      folded: (text.match(/<details><summary>思考过程<\/summary>/g) ?? []).length,
      sources: sources.length,
    }
  })

  await step('a shared link shows the searched answer with its numbered sources', async () => {
    await page.locator(tid('share-open')).click()
    await page.locator(tid('share-create')).click()
    await page.locator(tid('share-link')).waitFor({ timeout: STEP_MS })
    const link = await page.locator(tid('share-link')).inputValue()
    await page.locator(`${tid('share-dialog')} [role="dialog"] button[aria-label]`).first().click()
    await page.locator(tid('share-dialog')).waitFor({ state: 'detached', timeout: STEP_MS })
    const reader = await newPage('reader')
    await reader.goto(link)
    await reader.locator(tid('sources')).first().waitFor({ timeout: STEP_MS })
    const sources = await reader.locator(`${tid('sources')} a`).evaluateAll((links) => links.map((a) => a.href))
    const cites = await reader.locator('a.citation').evaluateAll((links) => links.map((a) => [a.textContent, a.href]))
    await reader.locator(tid('sources')).first().scrollIntoViewIfNeeded()
    await shot(reader, '05b-shared-citations')
    await reader.context().close()
    return { sources: sources.length, cites: cites.length, linked: cites.every(([n, href]) => sources[Number(n) - 1] === href) }
  })

  await step('a code block is copied with its button and a formula is typeset', async () => {
    await page.locator(tid('thinking-toggle')).click() // thinking off for this one
    const turn = await ask(page, `Show me some code and a formula ${TAG}`)
    const katex = await turn.locator('.katex').count()
    const display = await turn.locator('.katex-display').count()
    if (katex < 2 || display < 1) throw new Error(`formulas not typeset: ${katex} inline+display, ${display} display`)
    await turn.locator('.code-copy').first().click()
    await expectText(turn.locator('.code-copy').first(), /已复制/)
    const copied = await page.evaluate(() => navigator.clipboard.readText())
    if (copied.trim() !== 'print("hello, galaxy")') throw new Error(`clipboard holds ${JSON.stringify(copied)}`)
    await turn.locator(tid('copy-answer')).click()
    const answer = await page.evaluate(() => navigator.clipboard.readText())
    if (!answer.includes('$$\\int_0^1')) throw new Error('copy answer did not copy the Markdown source')
    await turn.locator('.katex-display').first().scrollIntoViewIfNeeded()
    await shot(page, '06-code-and-math')
    return { katex, display }
  })

  await step('attach an image by the file picker and by paste; a wrong type is refused before upload', async () => {
    await page.locator(tid('attach-input')).setInputFiles([{ name: 'tool.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ') }])
    await expectText(page.locator('.el-message').last(), /不支持此文件类型/)
    if (await page.locator(`${tid('composer-attachments')} ${tid('attachment-image')}`).count()) throw new Error('a refused file was kept')
    await page.locator(tid('attach-input')).setInputFiles([{ name: 'picked.png', mimeType: 'image/png', buffer: PNG }])
    await page.locator(tid('composer')).evaluate((el, b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
      const data = new DataTransfer()
      data.items.add(new File([bytes], 'pasted.png', { type: 'image/png' }))
      el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }))
    }, PNG_B64)
    const pending = page.locator(`${tid('composer-attachments')} ${tid('attachment-thumb')}`)
    const deadline = Date.now() + STEP_MS
    while ((await pending.count()) < 2 && Date.now() < deadline) await pause(50)
    if ((await pending.count()) !== 2) throw new Error(`pending images: ${await pending.count()}`)
    await shot(page, '07-images-pending')
    const turn = await ask(page, `What is in these pictures? ${TAG}`)
    if ((await page.locator(`${tid('composer-attachments')} ${tid('attachment-thumb')}`).count()) !== 0) {
      throw new Error('the composer kept the sent files')
    }
    const shown = turn.locator(`${tid('question-attachments')} ${tid('attachment-thumb')}`)
    const until = Date.now() + STEP_MS
    while ((await shown.count()) < 2 && Date.now() < until) await pause(50)
    if ((await shown.count()) !== 2) throw new Error(`thumbnails under the question: ${await shown.count()}`)
    const loaded = await shown.evaluateAll((imgs) => imgs.every((img) => img.complete && img.naturalWidth === 64))
    if (!loaded) throw new Error('a thumbnail did not load from its signed URL')
    if ((await turn.getAttribute('data-status')) !== 'completed') throw new Error(`answer ${await turn.getAttribute('data-status')}`)
    await shot(page, '08-images-answered')
  })

  await step('the role editor sets model, temperature, top_p, max tokens and thinking, refusing bad values', async () => {
    await page.locator(tid('nav-roles')).click()
    await page.waitForURL(`${WEB_URL}/roles`)
    await page.locator(tid('role-name')).fill(`Thinker ${TAG}`)
    await page.locator(tid('role-prompt')).fill('You think before you answer.')
    await page.locator(`${tid('role-model')} option[value="qwen3-max"]`).waitFor({ state: 'attached', timeout: STEP_MS })
    await page.locator(tid('role-model')).selectOption('qwen3-max')
    await page.locator(tid('role-temperature')).fill('2.5')
    await expectText(page.locator(tid('role-settings-error')), /参数超出范围：温度/) // named by its label, not the field, after a full-width colon
    await shot(page, '09-role-editor-refused')
    await page.locator(tid('role-temperature')).fill('0.7')
    await page.locator(tid('role-top-p')).fill('0.9')
    await page.locator(tid('role-max-tokens')).fill('2048')
    await page.locator(tid('role-thinking')).check()
    if (await page.locator(tid('role-settings-error')).count()) throw new Error('valid settings flagged')
    const before = await page.locator(tid('my-role-card')).count()
    await page.locator(tid('role-submit')).click()
    await page.locator(tid('my-role-card')).nth(before).waitFor({ timeout: STEP_MS })
    result.roleSlug = null
  })

  await step('English and a phone-sized screen', async () => {
    await page.locator(tid('lang-toggle')).click()
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(`${WEB_URL}/?s=${result.sessionId}`)
    const first = page.locator(tid('turn')).first()
    await first.waitFor({ timeout: STEP_MS })
    await expectText(first.locator(tid('reasoning-header')), /Thought for \d+ s/)
    await expectText(page.locator(tid('thinking-toggle')), /Deep thinking/)
    const box = await page.locator(tid('composer-options')).boundingBox()
    if (!box || box.x < 0 || box.x + box.width > 391) throw new Error(`options off screen: ${JSON.stringify(box)}`)
    await shot(page, '10-phone-english')
    await page.locator(tid('lang-toggle')).click()
    await page.setViewportSize({ width: 1280, height: 800 })
  })

  await step('with reduced motion asked for, the thinking icon and the typing cursor keep still', async () => {
    // A thinking answer in a new chat twice: as the system asks (the icon pulses, the cursor
    // blinks), then in a browser whose user asked for less motion (prefers-reduced-motion: reduce).
    const moving = await motionWhileStreaming(await thinkingTurn(page, `Why do stars twinkle? ${TAG}`))
    await final(page.locator(tid('turn')).first())
    const calm = await newPage('calm', { reducedMotion: 'reduce' })
    await login(calm, { email: result.user.email, password: PASSWORD })
    const turn = await thinkingTurn(calm, `Why is the sea salty? ${TAG}`)
    const still = await motionWhileStreaming(turn)
    await final(turn)
    await calm.context().close()
    return { moving, still }
  })
})
