/**
 * Signing out from the page: forget what this browser holds of the user (signed file URLs, chats,
 * personas), end the session at Auth and go to the login page. `local` ends this device's session
 * only (the header's button); `global` ends every session of the user, on every device (the
 * profile page's, for a lost phone), as Auth revokes their refresh tokens.
 */
import { useRouter } from 'vue-router'
import { forgetSignedUrls } from '@/lib/files'
import { useAuth } from '@/stores/auth'
import { useChat } from '@/stores/chat'
import { useRoles } from '@/stores/roles'

export function useSignOut(): (scope?: 'local' | 'global') => Promise<void> {
  const auth = useAuth()
  const chat = useChat()
  const roles = useRoles()
  const router = useRouter()
  return async (scope = 'local') => {
    forgetSignedUrls()
    await chat.reset()
    roles.reset()
    await auth.signOut(scope)
    await router.push('/login')
  }
}
