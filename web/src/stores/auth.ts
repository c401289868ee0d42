/** The signed-in user and their profile; every page reads the session from here. */
import { defineStore } from 'pinia'
import { ref, computed } from 'vue'
import type { Session, User } from '@supabase/supabase-js'
import { supabase } from '@/lib/supabase'
import type { Profile } from '@/lib/types'

export const useAuth = defineStore('auth', () => {
  const session = ref<Session | null>(null)
  const profile = ref<Profile | null>(null)
  const ready = ref(false)
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
      client.auth.onAuthStateChange((_event, next) => {
        const changedUser = next?.user.id !== session.value?.user.id
        session.value = next
        if (changedUser) profile.value = null
      })
      ready.value = true
    })()
    return started
  }

  async function signIn(email: string, password: string): Promise<void> {
    const { data, error } = await supabase().auth.signInWithPassword({ email: email.trim(), password })
    if (error) throw error
    session.value = data.session
  }

  /** Returns whether the user is signed in already (autoconfirm) or must confirm their email. */
  async function signUp(email: string, password: string, username: string): Promise<boolean> {
    const { data, error } = await supabase().auth.signUp({
      email: email.trim(),
      password,
      options: { data: { username: username.trim() } },
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
    const { data, error } = await supabase().auth.updateUser({ email: email.trim(), password })
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

  async function signOut(): Promise<void> {
    await supabase().removeAllChannels()
    await supabase().auth.signOut()
    session.value = null
    profile.value = null
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

  async function changePassword(password: string): Promise<void> {
    const { error } = await supabase().auth.updateUser({ password })
    if (error) throw error
  }

  return {
    session, profile, ready, user, userId, isGuest, init, signIn, signUp, signInAsGuest, convertGuest, guestMessagesLeft,
    signOut, loadProfile, updateProfile, changePassword,
  }
})

export async function usernameAvailable(name: string): Promise<boolean> {
  const { data, error } = await supabase().rpc('username_available', { name: name.trim() })
  if (error) throw error
  return data === true
}
