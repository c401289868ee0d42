/**
 * An e-mail address typed on a Chinese keyboard in full-width mode (ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ,
 * or a full-width ＠ alone among ASCII) is the address its user means: it is read as NFKC (the
 * full-width forms as ASCII), and a full stop typed as 。 in the domain as a dot (as browsers read
 * a domain name), before it is checked and before it is sent. The sign-in, sign-up and reset forms
 * said such an address was not an e-mail address, and a full-width letter that passed the check
 * was sent as typed, an address no account has.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { createPinia, setActivePinia } from 'pinia'
import { createMemoryHistory, createRouter } from 'vue-router'
import { makeI18n } from '@/i18n'
import { emailAddress, emailOk } from '@/lib/rules'
import { useAuth } from '@/stores/auth'
import LoginView from '@/views/LoginView.vue'
import ForgotView from '@/views/ForgotView.vue'

const sent: Record<string, unknown[]> = {}
const record =
  (name: string, answer: unknown = { data: { session: null, user: { email: 'ann@example.com' } }, error: null }) =>
  (...args: unknown[]) => {
    sent[name] = args
    return Promise.resolve(answer)
  }

vi.mock('@/lib/supabase', () => {
  const rows = { select: () => rows, eq: () => rows, maybeSingle: () => Promise.resolve({ data: null, error: null }) }
  return {
    supabase: () => ({
      from: () => rows,
      auth: {
        getSession: () => Promise.resolve({ data: { session: null } }),
        onAuthStateChange: () => ({ data: { subscription: { unsubscribe: () => undefined } } }),
        signInWithPassword: record('signIn'),
        signUp: record('signUp'),
        updateUser: record('updateUser'),
        resend: record('resend', { data: {}, error: null }),
        resetPasswordForEmail: record('reset', { data: {}, error: null }),
        mfa: { getAuthenticatorAssuranceLevel: () => Promise.resolve({ data: { currentLevel: 'aal1', nextLevel: 'aal1' }, error: null }) },
      },
    }),
  }
})

beforeEach(() => {
  for (const key of Object.keys(sent)) delete sent[key]
  setActivePinia(createPinia())
})

const WIDE = ['ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ', 'ann＠example.com', 'ａｎｎ@example.com', ' ann@example。com ', 'ann@ｅｘａｍｐｌｅ｡com']

describe('an e-mail address typed in full width', () => {
  it('passes the check and is read as the ASCII address', () => {
    for (const typed of WIDE) {
      expect(emailOk(typed), typed).toBe(true)
      expect(emailAddress(typed), typed).toBe('ann@example.com')
    }
    expect(emailAddress('Ann.Lee+chat@Example.com')).toBe('Ann.Lee+chat@Example.com') // nothing else changes
    expect(emailAddress('李。雷@例子.中国')).toBe('李。雷@例子.中国') // the name's own 。 is its own
    expect(emailOk('ann＠example')).toBe(false)
    expect(emailOk('ａｎｎ　＠example.com')).toBe(false) // a full-width space is a space
  })

  it('is sent as the ASCII address at every door of the auth store', async () => {
    const auth = useAuth()
    await auth.signIn('ａｎｎ＠example.com', 'Secret123')
    expect(sent.signIn?.[0]).toMatchObject({ email: 'ann@example.com' })
    await auth.signUp('ann＠example．com', 'Secret123', 'ann')
    expect(sent.signUp?.[0]).toMatchObject({ email: 'ann@example.com' })
    await auth.requestPasswordReset('ann＠example.com')
    expect(sent.reset?.[0]).toBe('ann@example.com')
    await auth.resendConfirmation('ann＠example.com')
    expect(sent.resend?.[0]).toMatchObject({ email: 'ann@example.com' })
    expect(await auth.changeEmail('ＡＮＮ＠example.com')).toBe('changed')
    expect(sent.updateUser?.[0]).toEqual({ email: 'ann@example.com' })
  })

  it('signs in from the login form', async () => {
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:any(.*)*', component: LoginView }] })
    await router.push('/login')
    const wrapper = mount(LoginView, { global: { plugins: [router, makeI18n('zh-CN')] } })
    await wrapper.find('[data-testid="email"]').setValue('ann＠ｅｘａｍｐｌｅ.com')
    await wrapper.find('input[type="password"]').setValue('Secret123')
    await wrapper.find('form').trigger('submit')
    await flushPromises()
    expect(wrapper.text()).not.toContain('请输入有效的邮箱地址')
    expect(sent.signIn?.[0]).toMatchObject({ email: 'ann@example.com' })
  })

  it('asks for a reset link from the forgotten-password form, and says where it went', async () => {
    const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:any(.*)*', component: ForgotView }] })
    await router.push('/forgot')
    const wrapper = mount(ForgotView, { global: { plugins: [router, makeI18n('zh-CN')] } })
    await wrapper.find('[data-testid="email"]').setValue('ａｎｎ＠example.com')
    await wrapper.find('form').trigger('submit')
    await flushPromises()
    expect(sent.reset?.[0]).toBe('ann@example.com')
    expect(wrapper.text()).toContain('ann@example.com')
  })
})
