/** The signed-in user and their profile; every page reads the session from here. */
import { defineStore } from 'pinia'
import { ref, computed } from 'vue'
import type { Session, User } from '@supabase/supabase-js'
import { supabase } from '@/lib/supabase'
import { repeatTillApplied } from '@/lib/storeOnce'
import type { Profile } from '@/lib/types'
import { emailAddress } from '@/lib/rules'

export const useAuth = defineStore('auth', () => {
  const session = ref<Session | null>(null)
  const profile = ref<Profile | null>(null)
  const ready = ref(false)
  /** Signed in with the password, but the account has a verified factor: the code is still owed. */
  const needsCode = ref(false)
  let started: Promise<void> | null = null

  const user = computed<User | null>(() => session.value?.user ?? null)
  const userId = computed(() => session.value?.user.id ?? null)
  /** Signed in anonymously ("try without an account"); the database limits guests. */
  const isGuest = computed(() => session.value?.user.is_anonymous === true)

  /** Restore the stored session once, then follow sign-in/out and token refreshes. */
  function init(): Promise<void> {
    if (started) return started
    started = (async () => {
      const client = supabase()
      const { data } = await client.auth.getSession()
      session.value = data.session
      await checkAssurance().catch(() => undefined) // a broken stored session is dealt with on use
      client.auth.onAuthStateChange((_event, next) => {
        const changedUser = next?.user.id !== session.value?.user.id
        session.value = next
        if (changedUser) profile.value = null
      })
      ready.value = true
    })()
    return started
  }

  /** Whether this session must still verify a second factor (aal1 while the account has aal2).
   *  Owed until known, so the header shows no one signed in meanwhile; not owed if it cannot be told
   *  (a broken session is dealt with on use). */
  async function checkAssurance(): Promise<boolean> {
    if (!session.value) {
      needsCode.value = false
      return false
    }
    needsCode.value = true
    try {
      const { data, error } = await supabase().auth.mfa.getAuthenticatorAssuranceLevel()
      if (error) throw error
      needsCode.value = data.nextLevel === 'aal2' && data.currentLevel !== 'aal2'
    } catch (e) {
      needsCode.value = false
      throw e
    }
    return needsCode.value
  }

  /** Password sign-in; returns true when a two-factor code must follow (`verifyCode`). The code is
   *  owed from the moment Auth answers (its listener hears of the aal1 session first) until known. */
  async function signIn(email: string, password: string): Promise<boolean> {
    needsCode.value = true
    try {
      const { data, error } = await supabase().auth.signInWithPassword({ email: emailAddress(email), password })
      if (error) throw error
      session.value = data.session
    } catch (e) {
      needsCode.value = false
      throw e
    }
    return checkAssurance()
  }

  /** The second step of sign-in: the 6-digit code from the authenticator app. */
  async function verifyCode(code: string): Promise<void> {
    const factors = await supabase().auth.mfa.listFactors()
    if (factors.error) throw factors.error
    const factor = factors.data.totp[0]
    if (!factor) throw new Error('no verified factor')
    const { error } = await supabase().auth.mfa.challengeAndVerify({ factorId: factor.id, code: code.trim() })
    if (error) throw error
    session.value = (await supabase().auth.getSession()).data.session
    needsCode.value = false
  }

  /** The verified TOTP factor, if two-factor sign-in is on. */
  async function totpFactor(): Promise<{ id: string } | null> {
    const { data, error } = await supabase().auth.mfa.listFactors()
    if (error) throw error
    return data.totp[0] ?? null
  }

  /** Start turning two-factor sign-in on: a fresh factor whose QR code and secret the page shows. */
  async function enrolTotp(): Promise<{ id: string; qr: string; secret: string }> {
    const client = supabase()
    const listed = await client.auth.mfa.listFactors()
    if (listed.error) throw listed.error
    for (const stale of listed.data.all.filter((f) => f.status !== 'verified')) {
      const { error } = await client.auth.mfa.unenroll({ factorId: stale.id })
      if (error) throw error
    }
    const { data, error } = await client.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'ChatGalaxy', issuer: 'ChatGalaxy' })
    if (error) throw error
    return { id: data.id, qr: data.totp.qr_code, secret: data.totp.secret }
  }

  /** Finish turning it on with the first code; the session is aal2 from then on. */
  async function confirmTotp(factorId: string, code: string): Promise<void> {
    const { error } = await supabase().auth.mfa.challengeAndVerify({ factorId, code: code.trim() })
    if (error) throw error
    session.value = (await supabase().auth.getSession()).data.session
  }

  async function disableTotp(factorId: string): Promise<void> {
    const { error } = await supabase().auth.mfa.unenroll({ factorId })
    if (error) throw error
    const refreshed = await supabase().auth.refreshSession() // back to aal1 claims
    if (refreshed.error) throw refreshed.error
    session.value = refreshed.data.session
  }

  /** Returns whether the user is signed in already (autoconfirm) or must confirm their email. */
  async function signUp(email: string, password: string, username: string): Promise<boolean> {
    const { data, error } = await supabase().auth.signUp({
      email: emailAddress(email),
      password,
      options: { data: { username: username.trim() }, emailRedirectTo: callbackUrl() },
    })
    if (error) throw error
    session.value = data.session
    return data.session !== null
  }

  /** "Try without an account": an anonymous user with a real session. */
  async function signInAsGuest(): Promise<void> {
    const { data, error } = await supabase().auth.signInAnonymously()
    if (error) throw error
    session.value = data.session
  }

  /**
   * A guest signs up: the same user gains a username, an email and a password, so every
   * conversation stays theirs. Returns whether they are a full member now (autoconfirm) or
   * must confirm the emailed link first.
   */
  async function convertGuest(email: string, password: string, username: string): Promise<boolean> {
    await updateProfile({ username: username.trim() })
    const { data, error } = await supabase().auth.updateUser({ email: emailAddress(email), password }, { emailRedirectTo: callbackUrl() })
    if (error) throw error
    if (data.user?.is_anonymous) return false
    const refreshed = await supabase().auth.refreshSession() // a token without is_anonymous
    if (refreshed.error) throw refreshed.error
    session.value = refreshed.data.session
    return true
  }

  /** How many questions a guest may still ask (null for members). */
  async function guestMessagesLeft(): Promise<number | null> {
    if (!isGuest.value) return null
    const { data, error } = await supabase().rpc('guest_messages_left')
    if (error) throw error
    return typeof data === 'number' ? data : null
  }

  /** End this device's session (`local`), or every session of the user (`global`: a failure is
   * thrown, the user must not believe their other devices signed out when they were not). */
  async function signOut(scope: 'local' | 'global' = 'local'): Promise<void> {
    await supabase().removeAllChannels()
    const { error } = await supabase().auth.signOut({ scope })
    if (error && scope === 'global') throw error
    session.value = null
    profile.value = null
    needsCode.value = false
  }

  async function loadProfile(): Promise<Profile | null> {
    if (!userId.value) return null
    const { data, error } = await supabase()
      .from('profiles')
      .select('id,username,email,avatar_url,last_login_at,created_at')
      .eq('id', userId.value)
      .maybeSingle()
    if (error) throw error
    profile.value = data as Profile | null
    return profile.value
  }

  async function updateProfile(patch: { username?: string; avatar_url?: string | null }): Promise<void> {
    if (!userId.value) return
    const { data, error } = await supabase()
      .from('profiles')
      .update(patch)
      .eq('id', userId.value)
      .select('id,username,email,avatar_url,last_login_at,created_at')
      .single()
    if (error) throw error
    profile.value = data as Profile
  }

  /** Sets the password, again while the answer is lost on the way: a repeat refused as the same
   * password found the lost one applied. */
  async function changePassword(password: string): Promise<void> {
    const { error } = await repeatTillApplied(
      async () => {
        const { data, error } = await supabase().auth.updateUser({ password })
        return { data, error, status: error ? error.status ?? 0 : 200 }
      },
      (outcome) => outcome.error?.code === 'same_password',
    )
    if (error) throw error
  }

  /** Mail the sign-up confirmation link again, or an address change's links (`email` is then the
   * current address). */
  async function resendConfirmation(email: string, type: 'signup' | 'email_change' = 'signup'): Promise<void> {
    const { error } = await supabase().auth.resend({ type, email: emailAddress(email), options: { emailRedirectTo: callbackUrl() } })
    if (error) throw error
  }

  /** Ask for a new address: 'mailed': it applies once the link mailed to it, and with secure email
   * change (the product's `double_confirm_changes`) the one mailed to the current address too, are
   * followed (with confirmations off, either one). 'changed' if Auth applied it at once (GoTrue does
   * so only for a guest adding an address with confirmations off). */
  async function changeEmail(email: string): Promise<'changed' | 'mailed'> {
    const wanted = emailAddress(email).toLowerCase()
    const { data, error } = await supabase().auth.updateUser({ email: wanted }, { emailRedirectTo: callbackUrl() })
    if (error) throw error
    if (data.user.email?.toLowerCase() !== wanted) return 'mailed'
    await loadProfile()
    return 'changed'
  }

  /** Mail a password-reset link; its page (/auth/callback) then asks for the new password. */
  async function requestPasswordReset(email: string): Promise<void> {
    const { error } = await supabase().auth.resetPasswordForEmail(emailAddress(email), { redirectTo: callbackUrl() })
    if (error) throw error
  }

  return {
    session, profile, ready, user, userId, isGuest, needsCode, init, signIn, signUp, signInAsGuest, convertGuest,
    guestMessagesLeft, checkAssurance, verifyCode, totpFactor, enrolTotp, confirmTotp, disableTotp,
    signOut, loadProfile, updateProfile, changePassword, changeEmail, resendConfirmation, requestPasswordReset,
  }
})

/** Where e-mailed links (confirmation, recovery) bring the browser back to. */
export function callbackUrl(): string {
  return `${window.location.origin}/auth/callback`
}

export async function usernameAvailable(name: string): Promise<boolean> {
  const { data, error } = await supabase().rpc('username_available', { name: name.trim() })
  if (error) throw error
  return data === true
}
