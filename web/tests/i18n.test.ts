import { beforeEach, describe, expect, it } from 'vitest'
import { LOCALE_KEY, makeI18n, storedLocale, toggleLocale } from '@/i18n'
import zh from '@/i18n/zh'
import en from '@/i18n/en'

function keys(value: unknown, prefix = ''): string[] {
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k))
  }
  return [prefix]
}

describe('i18n', () => {
  beforeEach(() => localStorage.clear())

  it('defaults to Chinese', () => {
    expect(storedLocale()).toBe('zh-CN')
    const i18n = makeI18n()
    expect(i18n.global.t('nav.login')).toBe('登录')
  })

  it('switches to English and back, and remembers the choice', () => {
    const i18n = makeI18n()
    expect(toggleLocale(i18n)).toBe('en')
    expect(i18n.global.t('nav.login')).toBe('Log in')
    expect(localStorage.getItem(LOCALE_KEY)).toBe('en')
    expect(document.documentElement.lang).toBe('en')
    expect(makeI18n().global.t('chat.send')).toBe('Send')
    expect(toggleLocale(i18n)).toBe('zh-CN')
    expect(i18n.global.t('chat.send')).toBe('发送')
  })

  it('interpolates', () => {
    const i18n = makeI18n('en')
    expect(i18n.global.t('auth.usernameRule', { width: 4 })).toContain('(now 4)')
  })

  it('has every key in both languages, none empty', () => {
    expect(keys(en).sort()).toEqual(keys(zh).sort())
    for (const key of keys(en)) {
      const value = key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], en)
      expect(typeof value === 'string' && value.length > 0, key).toBe(true)
    }
  })
})
