import { describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import PasswordRules from '@/components/PasswordRules.vue'
import StateBlock from '@/components/StateBlock.vue'
import MarkdownView from '@/components/MarkdownView.vue'
import RolePicker from '@/components/RolePicker.vue'
import SourceList from '@/components/SourceList.vue'
import type { AiRole } from '@/lib/types'
import { ElMessage } from '@/lib/ui'

vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn() } }))

const plugins = () => [makeI18n('en')]

describe('PasswordRules', () => {
  it('ticks each rule as the password grows', async () => {
    const wrapper = mount(PasswordRules, { props: { password: '' }, global: { plugins: plugins() } })
    const ok = () => wrapper.findAll('li').map((li) => li.attributes('data-ok'))
    expect(ok()).toEqual(['false', 'false', 'false'])
    await wrapper.setProps({ password: 'abc' })
    expect(ok()).toEqual(['false', 'true', 'false'])
    await wrapper.setProps({ password: 'abcdefg1' })
    expect(ok()).toEqual(['true', 'true', 'true'])
    expect(wrapper.text()).toContain('At least 8 characters')
  })
})

describe('StateBlock', () => {
  const mountWith = (props: Record<string, unknown>) =>
    mount(StateBlock, { props, slots: { default: '<p class="content">rows</p>' }, global: { plugins: plugins() } })

  it('shows loading, then error with retry, then empty, then content', async () => {
    const wrapper = mountWith({ loading: true })
    expect(wrapper.find('[data-testid=state-loading]').exists()).toBe(true)
    expect(wrapper.find('.content').exists()).toBe(false)
    await wrapper.setProps({ loading: false, error: 'boom' })
    expect(wrapper.find('[data-testid=state-error]').text()).toContain('boom')
    await wrapper.find('button').trigger('click')
    expect(wrapper.emitted('retry')).toHaveLength(1)
    await wrapper.setProps({ error: null, empty: true, emptyText: 'nothing' })
    expect(wrapper.find('[data-testid=state-empty]').text()).toBe('nothing')
    await wrapper.setProps({ empty: false })
    expect(wrapper.find('.content').exists()).toBe(true)
  })
})

describe('MarkdownView', () => {
  it('renders sanitized Markdown and marks a streaming answer', () => {
    const wrapper = mount(MarkdownView, {
      props: { text: '**hi** <img src=x onerror=alert(1)>', streaming: true },
      global: { plugins: plugins() },
    })
    expect(wrapper.find('strong').text()).toBe('hi')
    expect(wrapper.find('img').exists()).toBe(false)
    expect(wrapper.classes()).toContain('cursor-blink')
  })

  it('says so when the clipboard refuses a code block', async () => {
    Object.defineProperty(navigator, 'clipboard', { value: { writeText: () => Promise.reject(new Error('denied')) }, configurable: true })
    const wrapper = mount(MarkdownView, { props: { text: '```js\nlet a = 1\n```' }, global: { plugins: plugins() } })
    await wrapper.find('[data-copy]').trigger('click')
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(ElMessage.error).toHaveBeenCalledWith('Could not copy to the clipboard')
    expect(wrapper.find('[data-copy]').text()).not.toBe('Copied')
  })
})

describe('SourceList', () => {
  it('numbers each source as the text cites it and opens it without a referrer', () => {
    const sources = [
      { index: 1, title: 'News', url: 'https://example.com/n', site_name: 'Example' },
      { index: 2, title: 'Docs', url: 'https://example.org/d' },
    ]
    const wrapper = mount(SourceList, { props: { sources }, global: { plugins: plugins() } })
    const links = wrapper.findAll('a')
    expect(links.map((a) => [a.text(), a.attributes('href')])).toEqual([['News', 'https://example.com/n'], ['Docs', 'https://example.org/d']])
    expect(links.every((a) => a.attributes('rel')?.includes('noopener'))).toBe(true)
    expect(wrapper.text()).toContain('Example')
  })

  it('links only web pages: a source whose address is a script, data or another scheme shows its title unlinked', () => {
    const sources = [
      { index: 1, title: 'Script', url: 'javascript:alert(document.cookie)' },
      { index: 2, title: 'Hidden', url: ' java\tscript:alert(1)' },
      { index: 3, title: 'Data', url: 'data:text/html,<script>alert(1)</script>' },
      { index: 4, title: 'Page', url: 'http://example.com/p' },
      { index: 5, title: 'Broken', url: 'not a url' },
    ]
    const wrapper = mount(SourceList, { props: { sources }, global: { plugins: plugins() } })
    expect(wrapper.findAll('a').map((a) => [a.text(), a.attributes('href')])).toEqual([['Page', 'http://example.com/p']])
    expect(wrapper.findAll('li').map((li) => li.text())).toEqual(['Sources', '1Script', '2Hidden', '3Data', '4Page', '5Broken'])
  })

  it('names a source without a title by its address, the link as the browser reads it', () => {
    const sources = [{ index: 3, title: '', url: 'HTTPS://example.com/x' }]
    const wrapper = mount(SourceList, { props: { sources }, global: { plugins: plugins() } })
    expect(wrapper.findAll('a').map((a) => [a.text(), a.attributes('href')])).toEqual([['HTTPS://example.com/x', 'https://example.com/x']])
  })

  it('shows nothing for an answer that did not search', () => {
    expect(mount(SourceList, { props: { sources: [] }, global: { plugins: plugins() } }).find('ol').exists()).toBe(false)
  })
})

describe('RolePicker', () => {
  const role = (id: string, slug: string, name: string): AiRole => ({
    id, slug, name, description: null, system_prompt: 'p', avatar_url: null, sort_order: 0, created_by: null, created_at: '',
    personality: {}, translations: {}, is_active: true,
  })

  it('marks the selected persona and emits a pick', async () => {
    const roles = [role('1', 'assistant', '智能助手'), role('2', 'tech_expert', '技术专家')]
    const wrapper = mount(RolePicker, { props: { roles, selected: '1' }, global: { plugins: plugins() } })
    expect(wrapper.find('[data-testid=role-assistant]').attributes('aria-checked')).toBe('true')
    expect(wrapper.find('[data-testid=role-tech_expert]').attributes('aria-checked')).toBe('false')
    await wrapper.find('[data-testid=role-tech_expert]').trigger('click')
    expect(wrapper.emitted('pick')?.[0]).toEqual([roles[1]])
  })

  it("shows each persona's name and description in the UI language, the stored ones where none is given", async () => {
    const assistant = {
      ...role('1', 'assistant', '智能助手'),
      description: '专业的AI助手',
      translations: { en: { name: 'Smart Assistant', description: 'A professional AI assistant' } },
    }
    const roles = [assistant, role('2', 'pirate', 'Pirate')]
    const i18n = makeI18n('en')
    const wrapper = mount(RolePicker, { props: { roles, selected: '1' }, global: { plugins: [i18n] } })
    const chip = () => wrapper.find('[data-testid=role-assistant]')
    expect(chip().text()).toBe('Smart Assistant')
    expect(chip().attributes('title')).toBe('A professional AI assistant')
    expect(wrapper.find('[data-testid=role-pirate]').text()).toBe('Pirate')
    i18n.global.locale.value = 'zh-CN'
    await wrapper.vm.$nextTick()
    expect(chip().text()).toBe('智能助手')
    expect(chip().attributes('title')).toBe('专业的AI助手')
  })
})
