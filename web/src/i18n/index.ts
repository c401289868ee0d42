/** Chinese by default, English on request; the choice is remembered in localStorage. */
import { createI18n } from 'vue-i18n'
import zh from './zh'
import en from './en'

export type Locale = 'zh-CN' | 'en'
export const LOCALE_KEY = 'chatgalaxy-locale'

export function storedLocale(): Locale {
  try {
    return localStorage.getItem(LOCALE_KEY) === 'en' ? 'en' : 'zh-CN'
  } catch {
    return 'zh-CN'
  }
}

export function makeI18n(locale: Locale = storedLocale()) {
  return createI18n({
    legacy: false,
    locale,
    fallbackLocale: 'zh-CN',
    messages: { 'zh-CN': zh, en },
  })
}

export type AppI18n = ReturnType<typeof makeI18n>

export function setLocale(i18n: AppI18n, locale: Locale): void {
  i18n.global.locale.value = locale
  persistLocale(locale)
}

/** Remember the choice and tell the document (screen readers, fonts). */
export function persistLocale(locale: Locale): void {
  try {
    localStorage.setItem(LOCALE_KEY, locale)
  } catch {
    // private mode: the choice lasts for this page only
  }
  if (typeof document !== 'undefined') document.documentElement.lang = locale
}

export function toggleLocale(i18n: AppI18n): Locale {
  const next: Locale = i18n.global.locale.value === 'en' ? 'zh-CN' : 'en'
  setLocale(i18n, next)
  return next
}
