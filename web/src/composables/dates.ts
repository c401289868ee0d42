/** Dates and times as the app's language writes them (not the browser's: a zh page in an English
 *  browser says 2026年1月2日). */
import { useI18n } from 'vue-i18n'

export function useDates() {
  const { locale } = useI18n()
  const tag = (): string => (locale.value === 'en' ? 'en-US' : 'zh-CN')
  return {
    /** Day and time of day, e.g. "2026年1月2日 14:05" / "Jan 2, 2026, 2:05 PM". */
    dateTime: (iso: string): string => new Date(iso).toLocaleString(tag(), { dateStyle: 'medium', timeStyle: 'short' }),
    /** The time of day to the second. */
    timeOfDay: (iso: string): string => new Date(iso).toLocaleTimeString(tag(), { hour: '2-digit', minute: '2-digit', second: '2-digit' }),
  }
}
