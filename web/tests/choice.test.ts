/** A refused change of a stored choice leaves its `<select>` on the stored value, not the refused pick. */
import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import ComposerOptions from '@/components/ComposerOptions.vue'
import type { ModelInfo } from '@/lib/types'

const model = (id: string) => ({ id, display_name: id, supports_thinking: true, supports_search: true }) as ModelInfo

describe("the composer's model picker", () => {
  const mountWith = (saved: boolean, picks: Array<string | null>) =>
    mount(ComposerOptions, {
      props: {
        models: [model('qwen-plus'), model('qwen-max')],
        model: 'qwen-plus',
        defaultModel: null,
        thinking: false,
        search: false,
        saveModel: async (picked: string | null) => {
          picks.push(picked)
          return saved
        },
      },
      global: { plugins: [makeI18n('en')] },
    })

  it('goes back to the stored model when the change is refused', async () => {
    const picks: Array<string | null> = []
    const wrapper = mountWith(false, picks)
    const select = wrapper.find('select')
    await select.setValue('qwen-max')
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(picks).toEqual(['qwen-max'])
    expect((select.element as HTMLSelectElement).value).toBe('qwen-plus')
  })

  it('keeps the pick when it is stored, and asks for the default as null', async () => {
    const picks: Array<string | null> = []
    const wrapper = mountWith(true, picks)
    const select = wrapper.find('select')
    await select.setValue('qwen-max')
    await select.setValue('')
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(picks).toEqual(['qwen-max', null])
    expect((select.element as HTMLSelectElement).value).toBe('')
  })
})
