/**
 * The user's private Realtime channel `user:<user id>`, joined while the session list is shown: the
 * database broadcasts there what the list must follow from the user's other tabs and devices
 * (migrations/20261206182000_deletes_reach_other_tabs.sql). `sessions_deleted` {ids} takes chats
 * off the list (and says an open one is gone: `onGone`); `session` {row} brings a rename, a pin or
 * an archive (the row's title, pinned_at and archived_at) into the list and its order.
 *
 * Only the user may join it (RLS on realtime.messages, under the JWT the join carries) and nobody
 * may write on it. A broadcast missed (no socket at the time) is made good by the list's next read.
 */
import type { RealtimeChannel } from '@supabase/supabase-js'
import { supabase } from '@/lib/supabase'
import type { ChatSession } from '@/lib/types'
import type { ChatState } from './state'
import type { SessionList } from './sessions'

type Listed = Pick<ChatSession, 'id' | 'title' | 'pinned_at' | 'archived_at'>

export function userChannel(state: ChatState, list: SessionList, onGone: (id: string) => void) {
  let channel: RealtimeChannel | null = null
  let following: string | null = null

  function forget(ids: string[]): void {
    const gone = new Set(ids)
    state.sessions.value = state.sessions.value.filter((s) => !gone.has(s.id))
    const open = state.currentId.value
    if (open && gone.has(open)) onGone(open)
  }

  /** Join `user:<userId>` (leaving another user's), unless already on it. */
  async function follow(userId: string | null): Promise<void> {
    if (userId === following) return
    await leave()
    if (!userId) return
    following = userId
    const client = supabase()
    const topic = client.channel(`user:${userId}`, { config: { private: true } })
    channel = topic
    topic
      .on('broadcast', { event: 'sessions_deleted' }, ({ payload }) => forget((payload as { ids: string[] }).ids ?? []))
      .on('broadcast', { event: 'session' }, ({ payload }) => {
        const row = (payload as { row?: Listed }).row
        if (row?.id) list.mergeSession(row)
      })
    await client.realtime.setAuth()
    if (channel === topic) topic.subscribe()
  }

  async function leave(): Promise<void> {
    const old = channel
    channel = null
    following = null
    if (old) await supabase().removeChannel(old)
  }

  return { follow, leave }
}

export type UserChannel = ReturnType<typeof userChannel>
