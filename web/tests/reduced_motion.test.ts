/**
 * Where the user asked for less motion (prefers-reduced-motion: reduce) nothing in the app keeps
 * moving: every Tailwind animation (spin, pulse, bounce, ping) in the sources is stopped there by
 * motion-reduce:animate-none in the same class list. The lists' loading spinner (StateBlock) spun
 * there as anywhere, after the thinking icon, the waiting dots and the typing cursor had been stilled.
 */
import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import StateBlock from '@/components/StateBlock.vue'

const sources = import.meta.glob('../src/**/*.vue', { query: '?raw', import: 'default', eager: true }) as Record<string, string>

describe('motion where less was asked for', () => {
  it('stops every animation class of the sources', () => {
    const moving: string[] = []
    for (const [file, text] of Object.entries(sources)) {
      // A class list is a quoted string: each one naming an animation must also stop it.
      for (const list of text.match(/(["'`])[^"'`\n]*\banimate-(?:spin|pulse|bounce|ping)\b[^"'`\n]*\1/g) ?? []) {
        if (!/\bmotion-reduce:animate-none\b/.test(list)) moving.push(`${file}: ${list}`)
      }
    }
    expect(moving).toEqual([])
  })

  it("keeps the loading spinner still there, the words 'loading' with it", () => {
    const wrapper = mount(StateBlock, { props: { loading: true }, global: { plugins: [makeI18n('zh-CN')] } })
    const spinner = wrapper.find('[data-testid="state-loading"] > span')
    expect(spinner.classes()).toEqual(expect.arrayContaining(['animate-spin', 'motion-reduce:animate-none']))
    expect(wrapper.text()).toContain('加载中')
  })
})
