/**
 * Signed in with the password to an account with two-factor sign-in on, the user is not signed in
 * yet: the session is aal1 until the code is verified. Until then the header is what a signed-out
 * visitor sees (the language switch, no avatar, no sign-out); the code page's own "use another
 * account" is the way to leave. The header showed the avatar and "sign out" (退出登录) above the
 * code form, and while the password sign-in was still finding out whether a code is owed.
 */
import { describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import type { Session } from '@supabase/supabase-js'
import { makeI18n } from '@/i18n'
import { useAuth } from '@/stores/auth'
import App from '@/App.vue'

type Level = { data: { currentLevel: string; nextLevel: string }; error: null }
let level: () => Promise<Level> = () => Promise.resolve({ data: { currentLevel: 'aal1', nextLevel: 'aal2' }, error: null })
let listener: ((event: string, session: Session | null) => void) | null = null

const session = { access_token: 't', user: { id: 'u1', email: 'ann@example.com', is_anonymous: false } } as unknown as Session

vi.mock('@/lib/supabase', () => {
  const rows = { select: () => rows, eq: () => rows, maybeSingle: () => Promise.resolve({ data: null, error: null }) }
  return {
    supabase: () => ({
      from: () => rows,
      auth: {
        getSession: () => Promise.resolve({ data: { session: null } }),
        onAuthStateChange: (f: typeof listener) => {
          listener = f
          return { data: { subscription: { unsubscribe: () => undefined } } }
        },
        // As supabase-js does: the listener hears of the new session before the call returns.
        signInWithPassword: () => {
          listener?.('SIGNED_IN', session)
          return Promise.resolve({ data: { session }, error: null })
        },
        mfa: { getAuthenticatorAssuranceLevel: () => level() },
      },
    }),
  }
})
vi.mock('@/lib/ui', () => ({
  ElConfigProvider: defineComponent({ setup: (_, { slots }) => () => h('div', slots.default?.()) }),
  ElMessage: { error: vi.fn(), success: vi.fn() },
}))

async function mountApp() {
  const pinia = createPinia()
  setActivePinia(pinia)
  const page = defineComponent({ render: () => h('p', 'page') })
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:any(.*)*', component: page }] })
  await router.push('/login')
  const wrapper = mount(App, { global: { plugins: [pinia, router, makeI18n('zh-CN')] } })
  await useAuth().init()
  await flushPromises()
  return wrapper
}

const signedInParts = (wrapper: Awaited<ReturnType<typeof mountApp>>) =>
  ['header-avatar', 'logout', 'nav', 'tabbar'].filter((id) => wrapper.find(`[data-testid="${id}"]`).exists())

describe('the header while the second factor is owed', () => {
  it('shows no avatar and no sign-out above the code page', async () => {
    const wrapper = await mountApp()
    expect(await useAuth().signIn('ann@example.com', 'Secret123')).toBe(true)
    await flushPromises()
    expect(useAuth().needsCode).toBe(true)
    expect(signedInParts(wrapper)).toEqual([])
    expect(wrapper.text()).not.toContain('退出登录')
    expect(wrapper.find('[data-testid="lang-toggle"]').exists()).toBe(true)
  })

  it('shows no avatar and no sign-out while the sign-in finds out whether a code is owed', async () => {
    const wrapper = await mountApp()
    let answer: (l: Level) => void = () => undefined
    level = () => new Promise((resolve) => (answer = resolve))
    const signingIn = useAuth().signIn('ann@example.com', 'Secret123')
    await flushPromises()
    expect(signedInParts(wrapper)).toEqual([])
    answer({ data: { currentLevel: 'aal1', nextLevel: 'aal1' }, error: null })
    expect(await signingIn).toBe(false)
    await flushPromises()
    // Without a second factor the user is signed in: the header says so.
    expect(signedInParts(wrapper)).toEqual(['header-avatar', 'logout', 'nav', 'tabbar'])
  })
})
