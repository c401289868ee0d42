/**
 * The shared conversation page shows what its owner chose to share: the files a question carried
 * (a share made with its attachments says what each file is, never the file) and the thinking
 * under a worded toggle in the reader's language; an answer that continued a /v1 request's words
 * (the share marks it `continued`) under the note the owner's page shows, none on any other.
 */
import { describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'

const shared = {
  title: 'Notes',
  created_at: '2026-12-05T10:00:00Z',
  messages: [
    {
      type: 'user', content: 'Summarise these', created_at: '2026-12-05T10:00:00Z',
      attachments: [{ name: 'notes.txt', mime_type: 'text/plain', size: 2048 }, { name: 'sky.png', mime_type: 'image/png', size: 3, width: 4, height: 3 }],
    },
    { type: 'assistant', content: 'Buy tea.', created_at: '2026-12-05T10:00:01Z', reasoning: 'The notes say tea.' },
    { type: 'user', content: 'Name a scientist as JSON', created_at: '2026-12-05T10:00:02Z' },
    { type: 'assistant', content: '{"name": "Ada"}', created_at: '2026-12-05T10:00:03Z', continued: true },
  ],
}

vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn() } }))
vi.mock('@/lib/supabase', () => ({ supabase: () => ({ rpc: () => Promise.resolve({ data: shared, error: null }) }) }))
vi.mock('vue-router', () => ({ useRoute: () => ({ params: { token: 'x'.repeat(32) } }), RouterLink: { template: '<a><slot /></a>' } }))

const SharedView = (await import('@/views/SharedView.vue')).default

describe('SharedView', () => {
  for (const [locale, thought] of [['en', 'Show the reasoning'], ['zh-CN', '展开思考过程']] as const) {
    it(`names each shared file and words the thinking's toggle (${locale})`, async () => {
      const i18n = makeI18n(locale)
      const page = mount(SharedView, { global: { plugins: [i18n], stubs: { RouterLink: { template: '<a><slot /></a>' } } } })
      await flushPromises()
      const files = page.findAll('[data-testid="shared-file"]')
      expect(files.map((f) => f.text())).toEqual([expect.stringContaining('notes.txt'), expect.stringContaining('sky.png')])
      expect(files[0]?.text()).toContain('2 KB')
      const summary = page.find('details summary').text()
      expect(summary).toBe(thought)
    })
  }

  for (const [locale, note] of [['en', 'Continues the words given in the request'], ['zh-CN', '续写请求中给出的开头']] as const) {
    it(`notes an answer that continued the request's words, and only it (${locale})`, async () => {
      const i18n = makeI18n(locale)
      const page = mount(SharedView, { global: { plugins: [i18n], stubs: { RouterLink: { template: '<a><slot /></a>' } } } })
      await flushPromises()
      const answers = page.findAll('[data-testid="shared-message"][data-type="assistant"]')
      expect(answers).toHaveLength(2)
      expect(answers[0]?.find('[data-testid="answer-continued"]').exists()).toBe(false)
      expect(answers[1]?.find('[data-testid="answer-continued"]').text()).toBe(note)
      expect(answers[1]?.text()).toContain('Ada')
    })
  }
})
