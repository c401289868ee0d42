import { TAG, STEP_MS, WEB_URL, final, journey, result, shot, step, tid, signUp } from './harness.mjs'
await journey(async ({ newPage }) => {
  const page = await newPage('probe', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })
  await step('probe', async () => {
    await signUp(page, { username: `probe_${TAG}`, email: `probe-${TAG}@example.com` })
    await page.waitForURL(`${WEB_URL}/`, { timeout: STEP_MS })
    await page.locator(tid('composer')).fill('你好')
    await page.locator(tid('send')).tap()
    await final(page.locator(tid('turn')).first())
    await page.goto(`${WEB_URL}/history`)
    await page.locator(tid('history-delete')).first().click()
    await page.locator('.el-message-box').waitFor({ timeout: STEP_MS })
    const buttons = await page.locator('.el-message-box__btns .el-button').allTextContents()
    const close = await page.locator('.el-message-box__headerbtn').getAttribute('aria-label')
    await shot(page, 'probe-confirm-zh')
    return { buttons, close }
  })
})
