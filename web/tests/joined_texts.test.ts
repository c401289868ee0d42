/**
 * A heading and what follows it ("could not upload x.png", then why) are joined by the locale's
 * `common.joined`: Chinese takes a full-width colon with no space (上传失败：网络…), English ": ".
 * A hard-coded ": " gave Chinese the English punctuation.
 */
import { describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { flushPromises, mount } from '@vue/test-utils'
import { makeI18n, type Locale } from '@/i18n'
import { ElMessage } from '@/lib/ui'
import { usePendingFiles } from '@/composables/pendingFiles'
import { errorText } from '@/lib/errors'
import { useI18n } from 'vue-i18n'

vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn(), success: vi.fn() } }))
vi.mock('@/lib/files', async (original) => ({
  ...(await original<typeof import('@/lib/files')>()),
  uploadAttachment: () => Promise.reject(new TypeError('Failed to fetch')),
}))

const sources = import.meta.glob('../src/**/*.{vue,ts}', { query: '?raw', import: 'default', eager: true }) as Record<string, string>

async function failedUpload(locale: Locale): Promise<string> {
  vi.mocked(ElMessage.error).mockClear()
  let add: ((files: File[]) => void) | null = null
  const Host = defineComponent({
    setup() {
      const { t } = useI18n()
      add = usePendingFiles((e) => errorText(e, t)).add
      return () => h('div')
    },
  })
  mount(Host, { global: { plugins: [makeI18n(locale)] } })
  add!([new File(['%PDF-1.4'], 'notes.pdf', { type: 'application/pdf' })])
  await flushPromises()
  return String(vi.mocked(ElMessage.error).mock.calls[0]?.[0])
}

describe('a heading joined to its text', () => {
  it('takes the Chinese colon in Chinese', async () => {
    expect(await failedUpload('zh-CN')).toBe('notes.pdf 上传失败：网络连接失败，请检查网络后重试')
  })

  it('takes ": " in English', async () => {
    expect(await failedUpload('en')).toBe('Could not upload notes.pdf: Could not reach the server: check your connection and try again')
  })

  it('is never joined with a hard-coded colon in the sources', () => {
    const found: string[] = []
    for (const [path, source] of Object.entries(sources)) {
      if (path.includes('/i18n/')) continue
      // `${t('…')}: ${…}` in a script, `{{ t('…') }}: {{ … }}` in a template
      for (const match of source.matchAll(/\)\}[:：] ?\$\{|\}\}\s*[:：]\s*\{\{/g)) {
        const line = source.slice(0, match.index).split('\n').length
        found.push(`${path}:${line}`)
      }
    }
    expect(found).toEqual([])
  })
})
