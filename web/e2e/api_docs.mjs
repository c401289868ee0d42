// The API docs render offline: /schema/swagger in Chromium with every request to a host other than
// the API refused, so a page that still reached for a CDN would stay blank and fail here.
//
// Env: see harness.mjs, plus API_URL (a running `python -m api`). tests/e2e/test_api_docs.py runs it.
import { STEP_MS, journey, result, shot, step } from './harness.mjs'

const API = (process.env.API_URL ?? 'http://127.0.0.1:8000').replace(/\/$/, '')
const apiHost = new URL(API).host
Object.assign(result, { refused: [], operations: 0 })

await journey(async ({ newPage }) => {
  const page = await newPage('docs', { locale: 'en-US' })
  // Only the API itself may answer: anything else (a CDN, a font service) is refused and recorded.
  await page.route('**/*', (route) => {
    const url = new URL(route.request().url())
    if (url.host === apiHost || url.protocol === 'data:') return route.continue()
    result.refused.push(url.href)
    return route.abort()
  })

  await step('Swagger UI renders every operation offline', async () => {
    await page.goto(`${API}/schema/swagger`)
    await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: STEP_MS })
    const operations = await page.locator('.swagger-ui .opblock').count()
    const paths = await page.locator('.swagger-ui .opblock-summary-path').allTextContents()
    result.operations = operations
    if (operations < 15) throw new Error(`only ${operations} operations rendered`)
    for (const wanted of ['/api/auth/login', '/api/chat/send', '/api/sessions']) {
      if (!paths.some((p) => p.replace(/\u200b/g, '') === wanted)) throw new Error(`${wanted} missing from ${paths}`)
    }
    await shot(page, '01-swagger')
    return { operations }
  })

  await step('an operation opens with its parameters and responses', async () => {
    const login = page.locator('.swagger-ui .opblock', { hasText: '/api/auth/login' }).first()
    await login.locator('.opblock-summary').click()
    await login.locator('.responses-wrapper').waitFor({ timeout: STEP_MS })
    await shot(page, '02-swagger-operation')
  })

  await step('/schema opens the same page', async () => {
    await page.goto(`${API}/schema`)
    await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: STEP_MS })
  })

  await step('nothing was fetched from outside', async () => {
    if (result.refused.length > 0) throw new Error(`the page reached for ${result.refused.join(', ')}`)
  })
})
