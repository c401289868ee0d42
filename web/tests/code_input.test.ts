/**
 * The six digits of an authenticator app, as a phone user enters them: a Chinese keyboard in its
 * full-width mode types １２３４５６, and an app that shows "123 456" copies it so. The field keeps
 * the six digits: it took the full-width ones as they were (then "enter the 6-digit code") and cut a
 * pasted "123 456" to "123 45" at its maxlength of six characters.
 */
import { describe, expect, it } from 'vitest'
import { defineComponent, h, ref } from 'vue'
import { mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import CodeInput from '@/components/CodeInput.vue'

function mountInput() {
  const code = ref('')
  const Host = defineComponent({
    setup: () => () => h(CodeInput, { modelValue: code.value, 'onUpdate:modelValue': (v: string) => (code.value = v) }),
  })
  const wrapper = mount(Host, { global: { plugins: [makeI18n('zh-CN')] } })
  return { code, input: wrapper.find('input') }
}

describe('the code field', () => {
  it.each([
    ['１２３４５６', '123456'],
    ['123 456', '123456'],
    ['123-456', '123456'],
    [' 654321\n', '654321'],
    ['1234567', '123456'],
  ])('keeps the six digits of %j', async (typed, kept) => {
    const { code, input } = mountInput()
    await input.setValue(typed)
    expect(code.value).toBe(kept)
    expect((input.element as HTMLInputElement).value).toBe(kept)
  })

  it('lets no letter stand in the field', async () => {
    const { code, input } = mountInput()
    await input.setValue('12a')
    expect(code.value).toBe('12')
    expect((input.element as HTMLInputElement).value).toBe('12')
  })
})
