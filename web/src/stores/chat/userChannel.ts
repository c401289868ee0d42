/**
 * The user's private Realtime channel `user:<user id>`, joined while the session list is shown: the
 * database broadcasts there what the list must follow from the user's other tabs and devices
 * (migrations/20261206182000_deletes_reach_other_tabs.sql,
 * 20261206190000_creations_reach_other_tabs.sql). `sessions_deleted` {ids} takes chats off the list
 * (and says an open one is gone: `onGone`); `session` {row} brings a rename, a pin or an archive
 * (the row's title, pinned_at and archived_at) into the list and its order (a chat of an older page
 * pinned is read, to be listed on top); `sessions_created` {rows, more} adds chats made elsewhere
 * (a new chat, a branch, the API's), or, `more` (too many at once for one broadcast), reads the
 * list again.
 *
 * A broadcast reaches only a joined channel: so the list is read again at each join (the first,
 * which comes after the list's first read was sent, each rejoin realtime-js makes by itself after a
 * lost socket or an error, and the join of a new channel after the server closed it, which
 * realtime-js does not rejoin: ./rejoin.ts), for whatever changed before it. What is heard while a
 * read of the list is in flight is applied again when that read lands (`list.heard`), since the
 * read may have been taken before it.
 *
 * Only the user may join it (RLS on realtime.messages, under the JWT the join carries) and nobody
 * may write on it.
 */
import type { RealtimeChannel } from '@supabase/supabase-js'
import { supabase } from '@/lib/supabase'
import type { ChatSession } from '@/lib/types'
import type { ChatState } from './state'
import type { SessionList } from './sessions'
import { rejoining } from './rejoin'

type Listed = Pick<ChatSession, 'id' | 'title' | 'pinned_at' | 'archived_at'>

export function userChannel(state: ChatState, list: SessionList, onGone: (id: string) => void) {
  let channel: RealtimeChannel | null = null
  // The user followed, joined or between a close and its rejoin.
  let following: string | null = null
  const backoff = rejoining()

  /** Join `user:<userId>` (leaving another user's), unless already on it. */
  async function follow(userId: string | null): Promise<void> {
    if (userId === following) return
    await leave()
    if (!userId) return
    following = userId
    await connect(userId)
  }

  async function connect(userId: string): Promise<void> {
    const client = supabase()
    const topic = client.channel(`user:${userId}`, { config: { private: true } })
    channel = topic
    const reread = () => void list.refresh().catch(() => undefined)
    topic
      .on('broadcast', { event: 'sessions_deleted' }, ({ payload }) => {
        const ids = (payload as { ids?: string[] }).ids ?? []
        list.heard(() => list.dropSessions(ids))
        const open = state.currentId.value
        if (open && ids.includes(open)) onGone(open)
      })
      .on('broadcast', { event: 'session' }, ({ payload }) => {
        const row = (payload as { row?: Listed }).row
        if (!row?.id) return
        const held = state.sessions.value.some((s) => s.id === row.id)
        list.heard(() => list.mergeSession(row))
        // A chat of an older page pinned elsewhere now sorts on top: read it into the list.
        if (!held && row.pinned_at) void list.refreshSession(row.id).catch(() => undefined)
      })
      .on('broadcast', { event: 'sessions_created' }, ({ payload }) => {
        const { rows, more } = payload as { rows?: ChatSession[]; more?: boolean }
        if (rows?.length) list.heard(() => list.addSessions(rows))
        if (more) reread()
      })
    await client.realtime.setAuth()
    if (channel === topic) {
      topic.subscribe((status) => {
        if (channel !== topic) return
        if (status === 'SUBSCRIBED') {
          backoff.joined()
          reread()
        } else if (status === 'CLOSED') {
          // The server closed it (its own leave is not heard: `channel` is no longer it), and
          // realtime-js dropped it for good: tear it down and join a new one after the backoff.
          channel = null
          topic.teardown()
          backoff.closed(() => {
            if (following === userId && channel === null) void connect(userId).catch(() => undefined)
          })
        }
      })
    }
  }

  async function leave(): Promise<void> {
    backoff.stop()
    const old = channel
    channel = null
    following = null
    if (old) await supabase().removeChannel(old)
  }

  return { follow, leave }
}

export type UserChannel = ReturnType<typeof userChannel>
