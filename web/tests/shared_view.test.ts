/**
 * The shared conversation page shows what its owner chose to share: the files a question carried
 * (a share made with its attachments says what each file is, never the file) and the thinking
 * under a worded toggle in the reader's language.
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
})
