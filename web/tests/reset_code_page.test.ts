/**
 * A password-reset link of a two-factor account lands on a page asking for the app's code with the
 * new password (the session is aal1 until the code). That user is not signed in yet, so the header
 * offers no sign-out there: the page itself offers "use another account", as the sign-in's code
 * page does, which ends the half-signed-in session and goes to the login page. It had none.
 */
import { describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import type { Session } from '@supabase/supabase-js'
import { makeI18n } from '@/i18n'
import { useAuth } from '@/stores/auth'
import AuthCallbackView from '@/views/AuthCallbackView.vue'

const session = { access_token: 't', user: { id: 'u1', email: 'ann@example.com', is_anonymous: false } } as unknown as Session
const signOut = vi.fn(() => Promise.resolve({ error: null }))

vi.mock('@/lib/landing', () => ({ landing: () => ({ type: 'recovery' }) }))
vi.mock('@/lib/supabase', () => ({
  supabase: () => ({
    removeAllChannels: () => Promise.resolve([]),
    auth: {
      getSession: () => Promise.resolve({ data: { session } }),
      onAuthStateChange: () => ({ data: { subscription: { unsubscribe: () => undefined } } }),
      signOut,
      mfa: { getAuthenticatorAssuranceLevel: () => Promise.resolve({ data: { currentLevel: 'aal1', nextLevel: 'aal2' }, error: null }) },
    },
  }),
}))
vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn(), success: vi.fn() } }))

describe('the reset page of a two-factor account', () => {
  it.each([
    ['zh-CN', '换个账号登录'],
    ['en', 'Use another account'],
  ] as const)('offers a way out in %s: another account, at the login page', async (locale, words) => {
    const pinia = createPinia()
    setActivePinia(pinia)
    const page = defineComponent({ render: () => h('p', 'page') })
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:any(.*)*', component: page }] })
    await router.push('/auth/callback')
    const wrapper = mount(AuthCallbackView, { global: { plugins: [pinia, router, makeI18n(locale)] } })
    await flushPromises()
    expect(wrapper.find('[data-testid="mfa-code"]').exists()).toBe(true)
    const out = wrapper.find('[data-testid="mfa-other-account"]')
    expect(out.exists() && out.text()).toBe(words)
    await out.trigger('click')
    await flushPromises()
    expect(signOut).toHaveBeenCalled()
    expect(useAuth().session).toBeNull()
    expect(router.currentRoute.value.path).toBe('/login')
  })
})
