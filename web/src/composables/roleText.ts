/** A persona's name and description in the current UI language (lib/roleText.ts), for templates. */
import { useI18n } from 'vue-i18n'
import { roleDescription, roleName, type Translatable } from '@/lib/roleText'

export function useRoleText(): {
  name: (role: Translatable) => string
  description: (role: Translatable) => string | null
} {
  const { locale } = useI18n()
  return {
    name: (role) => roleName(role, locale.value),
    description: (role) => roleDescription(role, locale.value),
  }
}
