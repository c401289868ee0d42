/**
 * The share dialog's list of links has its loading and error states: while the list is read it says
 * so (it said "no share links yet" while they were on their way), and a failed read says it failed and
 * offers to read again (it said "no share links yet" under an error toast).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import ShareDialog from '@/components/ShareDialog.vue'

type Answer = { data: unknown; error: unknown }
const answers: Promise<Answer>[] = []
vi.mock('@/lib/supabase', () => {
  const rows = { select: () => rows, eq: () => rows, order: () => answers.shift() }
  return { supabase: () => ({ from: () => rows }) }
})
vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn(), success: vi.fn() } }))

const open = () => mount(ShareDialog, { props: { sessionId: 's' }, global: { plugins: [makeI18n('en')] } })
const LINK = { id: 'a', created_at: '2026-12-01T10:00:00Z', include_reasoning: false }

describe("the share dialog's list of links", () => {
  afterEach(() => {
    answers.length = 0
  })

  it('says it is loading, not that there are none, until the list comes', async () => {
    let answer: (value: Answer) => void = () => undefined
    answers.push(new Promise((resolve) => (answer = resolve)))
    const dialog = open()
    expect(dialog.find('[data-testid="state-loading"]').exists()).toBe(true)
    expect(dialog.text()).not.toContain('No share links yet')
    answer({ data: [LINK], error: null })
    await flushPromises()
    expect(dialog.findAll('[data-testid="share-item"]')).toHaveLength(1)
  })

  it('says the list failed and reads it again on Retry', async () => {
    answers.push(Promise.resolve({ data: null, error: { message: 'Failed to fetch' } }))
    const dialog = open()
    await flushPromises()
    expect(dialog.find('[data-testid="state-error"]').text()).toContain('Could not reach the server')
    expect(dialog.text()).not.toContain('No share links yet')
    answers.push(Promise.resolve({ data: [], error: null }))
    await dialog.find('[data-testid="state-error"] button').trigger('click')
    await flushPromises()
    expect(dialog.find('[data-testid="state-empty"]').text()).toBe('No share links yet')
  })
})
