// Browser journey for Storage: an avatar set on the profile (its upload's response lost on the way)
// shows in the header and beside the user's messages; an image attached by paste and a PDF by the picker (its upload's response lost
// on the way) are sent with a question, shown as a thumbnail and a chip, and still there after a
// reload; Enter pressed again and again while a file uploads sends its question once; an image over
// 36 megapixels, or a file that is no picture, is refused when attached; after signing out, the attachment's signed URL stops working once its (deliberately
// short) lifetime has passed.
//
// Env: see harness.mjs. Prints {ok, steps, user, sessionId, thumbUrl, pdfUploads, problems}; run by
// tests/e2e/test_storage.py, which checks the database too.
import { deflateSync, crc32 } from 'node:zlib'
import { TAG, STEP_MS, WEB_URL, failNext, final, journey, noErrorToast, pause, result, shot, step, tid, signUp } from './harness.mjs'

// A 4x3 red PNG, written out so the journey needs no image library.
const PNG = Buffer.from(
  '89504e470d0a1a0a0000000d49484452000000040000000308020000003b9639910000001049444154789c63f8cfc000470c' +
    '383900f5310bf5357bfb820000000049454e44ae426082',
  'hex',
)
const PDF = Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n')

/** A black-and-white PNG `width` x `height` (1 bit a pixel, all black: a few kB however large). */
function blankPng(width, height) {
  const chunk = (type, data) => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(data.length)
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
    const crc = Buffer.alloc(4)
    crc.writeUInt32BE(crc32(body))
    return Buffer.concat([length, body, crc])
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([1, 0, 0, 0, 0], 8) // bit depth 1, greyscale
  const rows = Buffer.alloc((1 + Math.ceil(width / 8)) * height) // each row: filter 0, then its bits
  const signature = Buffer.from('89504e470d0a1a0a', 'hex')
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))])
}

Object.assign(result, { user: null, sessionId: null, thumbUrl: null, pdfUploads: null })

async function imageLoaded(locator) {
  await locator.waitFor({ timeout: STEP_MS })
  const deadline = Date.now() + STEP_MS
  while (Date.now() < deadline) {
    const width = await locator.evaluate((img) => (img.complete ? img.naturalWidth : 0))
    if (width > 0) return width
    await pause(50)
  }
  throw new Error('the image never loaded')
}

await journey(async ({ newPage }) => {
  const page = await newPage('alice', { locale: 'en-US' })

  await step('register', async () => {
    const user = { username: `files_${TAG}`, email: `files-${TAG}@example.com` }
    await signUp(page, user)
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    result.user = user
  })

  await step('set an avatar on the profile and see it in the header', async () => {
    await page.goto(`${WEB_URL}/profile`)
    // The upload is stored but its response lost: the page finds it stored and uses it, rather than
    // failing or uploading a second copy (the test counts the user's avatar objects).
    const uploads = await failNext(page, /\/storage\/v1\/object\/avatars\//, 'lost')
    await page.locator(tid('avatar-input')).setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: PNG })
    const header = page.locator(`${tid('header-avatar')} ${tid('avatar-img')}`)
    await header.waitFor({ timeout: STEP_MS })
    await noErrorToast(page, 'an avatar whose upload response was lost')
    const src = await header.getAttribute('src')
    if (!src.includes('/storage/v1/object/public/avatars/')) throw new Error(`header avatar is ${src}`)
    await imageLoaded(header)
    await imageLoaded(page.locator(`${tid('profile-avatar')}`))
    await shot(page, '01-avatar')
    return { src, uploads: await uploads() }
  })

  await step('a new avatar whose profile save fails leaves the old one shown and stored', async () => {
    // The new file is uploaded, then saving it on the profile fails: the old avatar must not have
    // been removed first (the test checks its object is still stored and still the profile's).
    const header = page.locator(`${tid('header-avatar')} ${tid('avatar-img')}`)
    const before = await header.getAttribute('src')
    const saves = await failNext(page, /\/rest\/v1\/profiles/, 'refused', 'PATCH')
    await page.locator(tid('avatar-input')).setInputFiles({ name: 'other.png', mimeType: 'image/png', buffer: PNG })
    await page.locator('.el-message--error').first().waitFor({ timeout: STEP_MS })
    await page.locator(tid('avatar-input')).waitFor({ state: 'attached' })
    await page.locator('.el-message--error').first().waitFor({ state: 'detached', timeout: STEP_MS })
    if ((await header.getAttribute('src')) !== before) throw new Error('the header avatar changed')
    await imageLoaded(header)
    return { src: before, saves: await saves() }
  })

  await step('attach an image by paste and a PDF by the picker (a dropped file removed again), then send', async () => {
    await page.goto(`${WEB_URL}/`)
    await page.locator(tid('composer')).waitFor()
    await page.locator(tid('composer')).evaluate((el, bytes) => {
      const file = new File([new Uint8Array(bytes)], 'pasted.png', { type: 'image/png' })
      const data = new DataTransfer()
      data.items.add(file)
      el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }))
    }, [...PNG])
    // The PDF's upload is stored but its response never arrives: the page finds it stored rather
    // than reporting a failure or uploading it again (lib/storeOnce.ts).
    const pdfUploads = await failNext(page, /\/storage\/v1\/object\/attachments\/.*report\.pdf$/, 'lost')
    await page.locator(tid('attach-input')).setInputFiles({ name: 'report.pdf', mimeType: 'application/pdf', buffer: PDF })
    // A Markdown note dropped on the composer shows as a chip; removing it takes it off the message.
    await page.locator(tid('composer-form')).evaluate((form) => {
      const data = new DataTransfer()
      data.items.add(new File(['# notes'], 'notes.md', { type: 'text/markdown' }))
      form.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }))
    })
    const dropped = page.locator(`${tid('composer-attachments')} [title="notes.md"]`)
    await dropped.waitFor({ timeout: STEP_MS })
    const chips = page.locator(`${tid('composer-attachments')} ${tid('attachment-remove')}`)
    const waitUntil = Date.now() + STEP_MS
    while ((await chips.count()) < 3 && Date.now() < waitUntil) await pause(50)
    await chips.nth(2).click()
    await dropped.waitFor({ state: 'detached', timeout: STEP_MS })
    const composerFiles = page.locator(`${tid('composer-attachments')} ${tid('attachment-remove')}`)
    const deadline = Date.now() + STEP_MS
    while ((await composerFiles.count()) < 2 && Date.now() < deadline) await pause(50)
    await page.locator(tid('composer')).fill('What is in these files?')
    await page.locator(`${tid('send')}:not([disabled])`).waitFor({ timeout: STEP_MS }) // uploads done
    await noErrorToast(page, 'uploads')
    result.pdfUploads = await pdfUploads()
    await shot(page, '02-composer')
    await page.locator(tid('send')).click()
    const turn = page.locator(tid('turn')).first()
    await turn.locator(tid('attachment-thumb')).waitFor({ timeout: STEP_MS })
    await turn.locator(tid('attachment-chip')).waitFor({ timeout: STEP_MS })
    await page.waitForURL(/\?s=/, { timeout: STEP_MS })
    result.sessionId = new URL(page.url()).searchParams.get('s')
    await imageLoaded(turn.locator(tid('attachment-thumb')))
    await imageLoaded(turn.locator(`${tid('question-avatar')}`))
    await shot(page, '03-sent')
  })

  await step('reload: the thumbnail, the PDF chip and the avatar are still there', async () => {
    await page.goto(`${WEB_URL}/?s=${result.sessionId}&signedSeconds=6`)
    const turn = page.locator(tid('turn')).first()
    const thumb = turn.locator(tid('attachment-thumb'))
    await imageLoaded(thumb)
    const chip = await turn.locator(tid('attachment-chip')).textContent()
    if (!chip.includes('report.pdf')) throw new Error(`chip says ${chip}`)
    await imageLoaded(page.locator(`${tid('header-avatar')} ${tid('avatar-img')}`))
    result.thumbUrl = await thumb.getAttribute('src')
    const fetched = await fetch(result.thumbUrl)
    if (fetched.status !== 200) throw new Error(`signed URL answered ${fetched.status} while valid`)
    await shot(page, '04-reloaded')
  })

  await step('phone width: the message with its files fits', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.locator(tid('attachment-thumb')).first().waitFor()
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1)
    if (overflow) throw new Error('the page scrolls sideways on a phone')
    await shot(page, '05-phone')
    await page.setViewportSize({ width: 1280, height: 800 })
  })

  await step('Enter pressed again and again while a file uploads sends the question once', async () => {
    // A new chat, a file whose upload is held back, and Enter pressed repeatedly meanwhile: nothing
    // is sent while it uploads; once it is done one send is one question in one new chat (the test
    // counts them in the database).
    await page.goto(`${WEB_URL}/`)
    let release
    const held = new Promise((resolve) => (release = resolve))
    const hold = async (route) => {
      await held
      await route.fallback()
    }
    await page.route(/\/storage\/v1\/object\/attachments\/.*held\.pdf$/, hold)
    await page.locator(tid('attach-input')).setInputFiles({ name: 'held.pdf', mimeType: 'application/pdf', buffer: PDF })
    await page.locator(tid('composer')).fill('Only once, please')
    for (let i = 0; i < 4; i++) {
      await page.locator(tid('composer')).press('Enter')
      await pause(100)
    }
    const sentWhileUploading = await page.locator(tid('turn')).count()
    release()
    await page.locator(`${tid('send')}:not([disabled])`).waitFor({ timeout: STEP_MS })
    await page.unroute(/\/storage\/v1\/object\/attachments\/.*held\.pdf$/, hold)
    for (let i = 0; i < 4; i++) await page.locator(tid('composer')).press('Enter')
    await page.waitForURL(/\?s=/, { timeout: STEP_MS })
    await final(page.locator(tid('turn')).first())
    await noErrorToast(page, 'the question sent once')
    const turns = await page.locator(tid('turn')).count()
    await shot(page, '06-sent-once')
    return { sentWhileUploading, turns, sessionId: new URL(page.url()).searchParams.get('s') }
  })

  await step('an image over 36 megapixels, or one that is no picture, is refused when attached, not when sent', async () => {
    // The database refuses such a message (ImageTooManyPixels, ImageDimensionsMissing): the composer
    // says so when the file is added, by its name, and uploads nothing.
    await page.goto(`${WEB_URL}/`)
    await page.locator(tid('composer')).waitFor({ timeout: STEP_MS })
    const uploads = []
    const seen = (request) => {
      if (request.method() === 'POST' && request.url().includes('/storage/v1/object/attachments/')) uploads.push(request.url())
    }
    page.on('request', seen)
    const refused = {}
    for (const file of [
      { name: 'panorama.png', mimeType: 'image/png', buffer: blankPng(9000, 4001) },
      { name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all') },
    ]) {
      await page.locator(tid('attach-input')).setInputFiles(file)
      const toast = page.locator('.el-message--error', { hasText: file.name })
      await toast.waitFor({ timeout: STEP_MS }).catch(() => undefined)
      refused[file.name] = (await toast.count()) ? (await toast.first().textContent()).trim() : null
      await page.locator(tid('attach-input')).setInputFiles([])
    }
    await shot(page, '07-image-refused')
    const pending = await page.locator(`${tid('composer-attachments')} img`).count()
    // The same file as an avatar: refused by name too, the avatar kept.
    await page.goto(`${WEB_URL}/profile`)
    const before = await page.locator(`${tid('header-avatar')} ${tid('avatar-img')}`).getAttribute('src')
    await page.locator(tid('avatar-input')).setInputFiles({ name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all') })
    const toast = page.locator('.el-message--error')
    await toast.first().waitFor({ timeout: STEP_MS })
    const avatar = (await toast.first().textContent()).trim()
    const after = await page.locator(`${tid('header-avatar')} ${tid('avatar-img')}`).getAttribute('src')
    page.off('request', seen)
    return { refused, pending, uploads: uploads.length, avatar, avatarKept: before === after }
  })

  await step('sign out: the signed URL stops working past its expiry', async () => {
    await page.locator(tid('logout')).click()
    await page.waitForURL(/\/login/, { timeout: STEP_MS })
    const deadline = Date.now() + 15000
    let status = 200
    let body = null
    while (Date.now() < deadline) {
      const response = await fetch(result.thumbUrl)
      status = response.status
      if (status !== 200) {
        body = await response.json()
        break
      }
      await pause(250)
    }
    if (status !== 400 || body?.code !== 'InvalidJWT') throw new Error(`expired URL answered ${status} ${JSON.stringify(body)}`)
    return { status, code: body.code }
  })
})
