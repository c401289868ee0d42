import { describe, expect, it } from 'vitest'
import { mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import RoleTexts from '@/components/RoleTexts.vue'
import {
  otherRoleLocale,
  roleDescription,
  roleLocale,
  roleName,
  roleTextsDraft,
  roleTextsProblem,
  translationsFromDraft,
  withRoleTexts,
  type RoleTextsDraft,
} from '@/lib/roleText'

const assistant = {
  name: '智能助手',
  description: '专业的AI助手，可以回答各种问题',
  translations: { en: { name: 'Smart Assistant', description: 'A professional AI assistant' } },
}

describe('roleText', () => {
  it('maps the UI locale to a translations key', () => {
    expect(roleLocale('en')).toBe('en')
    expect(roleLocale('zh-CN')).toBe('zh')
  })

  it('reads the texts of the UI language, else the stored ones', () => {
    expect(roleName(assistant, 'en')).toBe('Smart Assistant')
    expect(roleDescription(assistant, 'en')).toBe('A professional AI assistant')
    expect(roleName(assistant, 'zh-CN')).toBe('智能助手')
    expect(roleDescription(assistant, 'zh-CN')).toBe('专业的AI助手，可以回答各种问题')
    const nameOnly = { ...assistant, translations: { en: { name: 'Helper' } } }
    expect(roleName(nameOnly, 'en')).toBe('Helper')
    expect(roleDescription(nameOnly, 'en')).toBe('专业的AI助手，可以回答各种问题')
    expect(roleName({ name: 'Pirate', description: null }, 'en')).toBe('Pirate')
    expect(roleName({ name: 'Pirate', description: null, translations: null }, 'zh-CN')).toBe('Pirate')
  })

  it('replaces one language, trimming and dropping blank texts as the database wants', () => {
    const both = { en: { name: 'Old' }, zh: { name: '旧' } }
    expect(withRoleTexts(both, 'en', { name: ' New ', description: '' })).toEqual({ en: { name: 'New' }, zh: { name: '旧' } })
    expect(withRoleTexts(both, 'en', { name: '  ', description: ' ' })).toEqual({ zh: { name: '旧' } })
    expect(withRoleTexts(null, 'en', { name: '', description: 'Helps' })).toEqual({ en: { description: 'Helps' } })
    expect(both).toEqual({ en: { name: 'Old' }, zh: { name: '旧' } })
  })
})

describe('role texts in the editors', () => {
  const blank = (): RoleTextsDraft => roleTextsDraft(null)

  it('offers the language the UI is not in first', () => {
    expect(otherRoleLocale('zh-CN')).toBe('en')
    expect(otherRoleLocale('en')).toBe('zh')
  })

  it('drafts every language, blank where a role has no text', () => {
    expect(roleTextsDraft({ en: { name: 'Pirate' } })).toEqual({ zh: { name: '', description: '' }, en: { name: 'Pirate', description: '' } })
    expect(blank()).toEqual({ zh: { name: '', description: '' }, en: { name: '', description: '' } })
  })

  it('writes a draft back over the stored translations, dropping blank languages', () => {
    const stored = { en: { name: 'Old', description: 'Old text' } }
    const draft = { zh: { name: ' 海盗 ', description: '' }, en: { name: '', description: '  ' } }
    expect(translationsFromDraft(stored, draft)).toEqual({ zh: { name: '海盗' } })
    expect(translationsFromDraft(null, blank())).toEqual({})
    expect(translationsFromDraft(stored, roleTextsDraft(stored))).toEqual(stored)
    expect(stored).toEqual({ en: { name: 'Old', description: 'Old text' } })
  })

  it('flags a text past the database limit, counting characters as Postgres does', () => {
    const draft = blank()
    draft.en.name = 'x'.repeat(100)
    draft.zh.description = '海'.repeat(2000)
    expect(roleTextsProblem(draft)).toBeNull()
    draft.en.name = `  ${'😀'.repeat(100)}  ` // 200 UTF-16 units, 100 characters once trimmed
    expect(roleTextsProblem(draft)).toBeNull()
    draft.zh.description += '海'
    expect(roleTextsProblem(draft)).toEqual({ locale: 'zh', field: 'description' })
    draft.zh.description = ''
    draft.en.name += 'x'
    expect(roleTextsProblem(draft)).toEqual({ locale: 'en', field: 'name' })
  })

  it('edits one language at a time, the other one first, and says what is too long', async () => {
    const wrapper = mount(RoleTexts, { props: { modelValue: blank() }, global: { plugins: [makeI18n('zh-CN')] } })
    expect(wrapper.find('[data-testid=role-texts-tab-en]').attributes('aria-selected')).toBe('true')
    await wrapper.find('[data-testid=role-texts-name-en]').setValue('Pirate')
    const first = wrapper.emitted('update:modelValue')?.[0]?.[0] as RoleTextsDraft
    expect(first).toEqual({ zh: { name: '', description: '' }, en: { name: 'Pirate', description: '' } })
    await wrapper.setProps({ modelValue: first })
    await wrapper.find('[data-testid=role-texts-tab-zh]').trigger('click')
    expect(wrapper.find('[data-testid=role-texts-name-en]').exists()).toBe(false)
    await wrapper.find('[data-testid=role-texts-description-zh]').setValue('海盗船长')
    const second = wrapper.emitted('update:modelValue')?.[1]?.[0] as RoleTextsDraft
    expect(second).toEqual({ zh: { name: '', description: '海盗船长' }, en: { name: 'Pirate', description: '' } })
    expect(wrapper.find('[data-testid=role-texts-error]').exists()).toBe(false)
    await wrapper.setProps({ modelValue: { ...second, en: { name: 'x'.repeat(101), description: '' } } })
    expect(wrapper.find('[data-testid=role-texts-error]').text()).toBe('英文名称超过 100 个字符')
  })
})
