// Personas in the reader's language (ai_roles.translations): a reader sees the built-in roles' Chinese
// names in Chinese and their English names once the UI is English — in the picker, the empty chat, an
// answer's byline, the history list, the roles page and on a phone; an admin writes a built-in role's
// English name and Chinese description in the admin area and the reader sees them after a reload; on a
// phone, in the Chinese UI, the reader writes a persona in Chinese with its English name and
// description, sees the English ones in the picker and the chat once the UI is English, and edits them.
//
// Env: see harness.mjs, and E2E_USERS ({tag, reader: {email, password}, admin: {...}}, made by
// tests/e2e/test_role_names.py, which checks the database for what the page showed).
import { PHONE, STEP_MS, WEB_URL, expectText, final, journey, login, result, shot, step, tid } from './harness.mjs'

const users = JSON.parse(process.env.E2E_USERS ?? '{}')
Object.assign(result, { sessionId: null, englishName: null, chineseDescription: null, custom: null })

await journey(async ({ newPage }) => {
  const page = await newPage('reader')

  await step('the built-in personas in Chinese', async () => {
    await login(page, users.reader)
    await page.goto(`${WEB_URL}/`)
    const chip = await expectText(page.locator(tid('role-tech_expert')), /技术专家/)
    return { chip: chip.trim() }
  })

  await step('switched to English: the picker and the empty chat name the persona in English', async () => {
    await page.locator(tid('lang-toggle')).click()
    await expectText(page.locator(tid('nav-history')), /History/)
    await page.locator(tid('role-tech_expert')).click()
    const chip = await expectText(page.locator(tid('role-tech_expert')), /^\s*Tech Expert\s*$/)
    const title = await page.locator(tid('role-tech_expert')).getAttribute('title')
    const empty = await expectText(page.locator(tid('chat-role-name')), /^Tech Expert$/)
    await shot(page, '01-picker-en')
    return { chip: chip.trim(), title, empty, casual: (await page.locator(tid('role-casual_chat')).textContent()).trim() }
  })

  await step("an answer's byline, the history list and the roles page in English", async () => {
    await page.locator(tid('composer')).fill('What is a closure?')
    await page.locator(tid('send')).click()
    const turn = page.locator(tid('turn')).first()
    await turn.waitFor({ timeout: STEP_MS })
    await final(turn)
    result.sessionId = new URL(page.url()).searchParams.get('s')
    const byline = await expectText(turn.locator(tid('answer-role')), /Tech Expert/)
    await shot(page, '02-answer-en')
    await page.locator(tid('nav-history')).click()
    const history = await expectText(page.locator(tid('history-role')).first(), /Tech Expert/)
    await page.locator(tid('nav-roles')).click()
    await page.locator(tid('role-card-name')).first().waitFor({ timeout: STEP_MS })
    const cards = (await page.locator(tid('role-card-name')).allTextContents()).map((s) => s.trim())
    await shot(page, '03-roles-en')
    return { byline: byline.trim(), history: history.trim(), cards }
  })

  await step('on a phone in English', async () => {
    const phone = await newPage('reader-phone', PHONE)
    await phone.addInitScript(() => localStorage.setItem('chatgalaxy-locale', 'en'))
    await login(phone, users.reader)
    await phone.goto(`${WEB_URL}/?s=${result.sessionId}`)
    await phone.locator(tid('turn')).first().waitFor({ timeout: STEP_MS })
    const chip = await expectText(phone.locator(tid('role-tech_expert')), /Tech Expert/)
    const byline = await expectText(phone.locator(tid('answer-role')).first(), /Tech Expert/)
    const width = await phone.evaluate(() => document.documentElement.scrollWidth)
    await shot(phone, '04-phone-en')
    await phone.context().close()
    return { chip: chip.trim(), byline: byline.trim(), width }
  })

  await step("an admin writes a built-in persona's English name; the reader sees it", async () => {
    const admin = await newPage('admin')
    await admin.addInitScript(() => localStorage.setItem('chatgalaxy-locale', 'en'))
    await login(admin, users.admin)
    await admin.goto(`${WEB_URL}/admin`)
    await admin.click(tid('admin-tab-roles'))
    const form = admin.locator(tid('admin-role')).filter({ has: admin.locator('code', { hasText: /^casual_chat$/ }) })
    await form.locator(tid('role-texts-tab-en')).click()
    const before = await form.locator(tid('role-texts-name-en')).inputValue()
    result.englishName = `Easy Chat ${users.tag}`
    await form.locator(tid('role-texts-name-en')).fill(result.englishName)
    await form.locator(tid('role-texts-tab-zh')).click()
    result.chineseDescription = `陪你闲聊的伙伴 ${users.tag}`
    await form.locator(tid('role-texts-description-zh')).fill(result.chineseDescription)
    await form.locator(tid('admin-role-save')).click()
    await admin.waitForSelector('.el-message--success', { timeout: STEP_MS })
    await shot(admin, '05-admin-english-name')
    await page.goto(`${WEB_URL}/`)
    const chip = await expectText(page.locator(tid('role-casual_chat')), new RegExp(result.englishName))
    await shot(page, '06-reader-sees-admin-edit')
    await page.locator(tid('lang-toggle')).click()
    const chinese = await expectText(page.locator(tid('role-casual_chat')), /轻松聊天/)
    const title = await page.locator(tid('role-casual_chat')).getAttribute('title')
    return { before, chip: chip.trim(), chinese: chinese.trim(), title }
  })

  // The reader's own persona, written in Chinese with its English texts, at a phone's width (the
  // reader's page, already signed in and back in Chinese, narrowed: saves a sign-in).
  result.custom = { name: `海盗船长 ${users.tag}`, english: `Captain ${users.tag}` }

  await step('on a phone in Chinese, a user writes a persona in Chinese with its English name', async () => {
    await page.setViewportSize(PHONE.viewport)
    await page.goto(`${WEB_URL}/roles`)
    const form = page.locator(tid('role-form'))
    await form.locator(tid('role-name')).fill(result.custom.name)
    await form.locator(tid('role-description')).fill('讲海盗故事')
    await form.locator(tid('role-prompt')).fill('你是一位海盗船长，用海盗的口吻回答。')
    const tab = await form.locator(tid('role-texts-tab-en')).getAttribute('aria-selected')
    await form.locator(tid('role-texts-name-en')).fill(`  ${result.custom.english}  `)
    await form.locator(tid('role-texts-description-en')).fill('Tells pirate stories')
    await form.locator(tid('role-texts-name-en')).scrollIntoViewIfNeeded()
    await shot(page, '07-phone-custom-role-form-zh')
    await form.locator(tid('role-submit')).click()
    const card = page.locator(tid('my-role-card')).filter({ hasText: result.custom.name })
    await card.waitFor({ timeout: STEP_MS })
    const width = await page.evaluate(() => document.documentElement.scrollWidth)
    return { englishTabFirst: tab, card: (await card.locator(tid('my-role-card-name')).textContent()).trim(), width }
  })

  await step("switched to English: the user's persona in English in the picker and the chat, and editable", async () => {
    // By keyboard: at a phone's width the "created" toast lies over the language button, and a mouse
    // parked on a toast keeps it open (element-plus pauses its timer on hover).
    await page.locator(tid('lang-toggle')).press('Enter')
    const card = page.locator(tid('my-role-card')).filter({ hasText: result.custom.english })
    const cardName = await expectText(card.locator(tid('my-role-card-name')), new RegExp(`^${result.custom.english}$`))
    await card.locator(tid('my-role-translate')).click()
    const tab = await card.locator(tid('role-texts-tab-zh')).getAttribute('aria-selected')
    await card.locator(tid('role-texts-tab-en')).click()
    await card.locator(tid('role-texts-description-en')).fill('Tells tall pirate tales')
    await shot(page, '08-phone-custom-role-edit-en')
    await card.locator(tid('my-role-texts-save')).click()
    await card.locator(tid('my-role-texts')).waitFor({ state: 'detached', timeout: STEP_MS }) // closes once saved
    await expectText(card, /Tells tall pirate tales/)
    await card.getByRole('button', { name: 'Chat with it' }).click()
    const chip = await expectText(page.locator(`${tid('role-picker')} [aria-checked="true"]`), new RegExp(result.custom.english))
    const empty = await expectText(page.locator(tid('chat-role-name')), new RegExp(`^${result.custom.english}$`))
    const width = await page.evaluate(() => document.documentElement.scrollWidth)
    await page.locator(`${tid('role-picker')} [aria-checked="true"]`).scrollIntoViewIfNeeded()
    await shot(page, '09-phone-custom-role-en')
    await page.setViewportSize({ width: 1280, height: 800 })
    const desktop = await expectText(page.locator(tid('role-picker')), new RegExp(result.custom.english))
    await shot(page, '10-custom-role-en')
    return {
      card: cardName.trim(),
      chineseTabFirst: tab,
      chip: chip.trim(),
      empty,
      width,
      desktop: desktop.includes(result.custom.english) && !desktop.includes(result.custom.name),
    }
  })
})
