import { describe, expect, it } from 'vitest'
import { roleDescription, roleLocale, roleName, withRoleTexts } from '@/lib/roleText'

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
