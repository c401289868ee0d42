/**
 * The session list: reading it, keeping it in order, and the owner's changes to a session (create,
 * role, pin, rename, delete, the stored leaf). Each change is written through supabase-js first
 * (RLS lets only the owner) and mirrored in the list only when the write succeeded.
 */
import { supabase } from '@/lib/supabase'
import { SESSION_COLUMNS, sessionOrder } from '@/lib/sessions'
import type { ChatSession } from '@/lib/types'
import { errorText, type ChatState } from './state'

export function sessionList(state: ChatState) {
  const { sessions } = state

  function sort(): void {
    sessions.value.sort(sessionOrder)
  }

  function patch(id: string, change: Partial<ChatSession>): void {
    sessions.value = sessions.value.map((s) => (s.id === id ? { ...s, ...change } : s))
  }

  /** Put a freshly read row on top of the list, replacing the old copy. */
  function put(row: ChatSession): void {
    sessions.value = [row, ...sessions.value.filter((s) => s.id !== row.id)]
    sort()
  }

  async function loadSessions(): Promise<void> {
    state.sessionsLoading.value = true
    state.sessionsError.value = null
    try {
      const { data, error } = await supabase()
        .from('chat_sessions')
        .select(SESSION_COLUMNS)
        .order('last_message_at', { ascending: false, nullsFirst: false })
        .order('created_at', { ascending: false })
        .limit(200)
      if (error) throw error
      sessions.value = (data ?? []) as ChatSession[]
      sort()
    } catch (e) {
      state.sessionsError.value = errorText(e)
    } finally {
      state.sessionsLoading.value = false
    }
  }

  /** The session's row as stored, or null when RLS hides it (someone else's, or deleted). */
  async function readSession(id: string): Promise<ChatSession | null> {
    const { data, error } = await supabase().from('chat_sessions').select(SESSION_COLUMNS).eq('id', id).maybeSingle()
    if (error) throw error
    return data as ChatSession | null
  }

  async function refreshSession(id: string): Promise<void> {
    const { data } = await supabase().from('chat_sessions').select(SESSION_COLUMNS).eq('id', id).maybeSingle()
    if (data) put(data as ChatSession)
  }

  /** A change heard on Realtime. The leaf moves locally first (send, flip, regenerate); a stale echo must not move it back. */
  function mergeSession(row: Partial<ChatSession> & { id: string }): void {
    if (!sessions.value.some((s) => s.id === row.id)) return
    const { current_leaf_id: _leaf, ...rest } = row
    patch(row.id, rest)
    sort()
  }

  function setLeaf(sessionId: string, leaf: string): void {
    patch(sessionId, { current_leaf_id: leaf })
  }

  /** A new session; untitled, so the worker titles it after the first answer in its language. */
  async function createSession(roleId: string | null): Promise<ChatSession> {
    const { data, error } = await supabase()
      .from('chat_sessions')
      .insert({ role_id: roleId, model: state.draftModel.value, thinking: state.draftThinking.value })
      .select(SESSION_COLUMNS)
      .single()
    if (error) throw error
    const row = data as ChatSession
    sessions.value = [row, ...sessions.value]
    return row
  }

  async function update(id: string, change: Partial<ChatSession>): Promise<void> {
    const { error } = await supabase().from('chat_sessions').update(change).eq('id', id)
    if (error) throw error
    patch(id, change)
  }

  async function setRole(roleId: string): Promise<void> {
    const id = state.currentId.value
    if (id) await update(id, { role_id: roleId })
  }

  async function setPinned(id: string, pinned: boolean): Promise<void> {
    await update(id, { pinned_at: pinned ? new Date().toISOString() : null })
    sort()
  }

  async function rename(id: string, title: string): Promise<void> {
    await update(id, { title: title.trim().slice(0, 200) || null })
  }

  /** Delete a session (its messages go with it); the caller closes it if it was open. */
  async function remove(id: string): Promise<void> {
    const { error } = await supabase().from('chat_sessions').delete().eq('id', id)
    if (error) throw error
    sessions.value = sessions.value.filter((s) => s.id !== id)
  }

  return { loadSessions, readSession, refreshSession, put, mergeSession, setLeaf, createSession, update, setRole, setPinned, rename, remove }
}

export type SessionList = ReturnType<typeof sessionList>
