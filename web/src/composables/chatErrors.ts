/**
 * How the chat page words a refusal: as lib/errors.ts does (a guest's regenerate past the limit,
 * `GuestLimitReached`, included), and a guest's question past the limit (RLS says 42501) as the
 * invitation to sign up too.
 * `attempt` runs a chat action and shows its refusal as a toast instead of throwing.
 */
import { useI18n } from 'vue-i18n'
import { ElMessage } from '@/lib/ui'
import { errorText as describedText } from '@/lib/errors'
import { useAuth } from '@/stores/auth'

export function useChatErrors() {
  const { t } = useI18n()
  const auth = useAuth()

  function errorText(e: unknown): string {
    if (auth.isGuest && (e as { code?: unknown } | null)?.code === '42501') return t('guest.limitReached')
    return describedText(e, t)
  }

  /** Whether the action went through (a refusal has been shown). */
  async function attempt(action: () => Promise<unknown>): Promise<boolean> {
    try {
      await action()
      return true
    } catch (e) {
      ElMessage.error(errorText(e))
      return false
    }
  }

  return { errorText, attempt }
}
