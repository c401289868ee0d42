/**
 * The open session's private Realtime channel `chat:<session id>`: the worker's ordered `chunk`,
 * `reasoning` and `done` broadcasts feed the answer streams (resume, lib/stream.ts), and
 * postgres_changes on the session's messages and on the session row keep the page in step, with
 * the database's `deleted` broadcast for rows deleted elsewhere (a filtered subscription hears no
 * DELETE).
 *
 * The join carries the user's JWT (Realtime checks RLS on realtime.messages with it). Realtime
 * answers the join before it stores its postgres_changes bindings, then says so in a `system`
 * message ("Subscribed to PostgreSQL", extension postgres_changes): a change committed in between
 * reaches no one. So the channel is joined only once both came, and then reads the conversation
 * again (its rows and the session row: what changed between the first read, or the last socket,
 * and then). Realtime says it again whenever it stores the bindings again (after its change stream
 * was lost, or a new token), and sends a `system` error while it cannot (the channel shows the
 * error until they are stored). realtime-js joins the channel again by itself after a `phx_error`,
 * a refused or timed-out join and a lost socket (the reads come again at "Subscribed"), but not
 * after the server closed it (`phx_close`, after a `system` error such as an expired token): then
 * the dead channel is torn down and a new one joined after a backoff (./rejoin.ts), the channel
 * showing its error meanwhile. While any answer is in flight a poll every POLL_MS re-reads it, so
 * a lost broadcast only delays the text. `waitJoined` lets a sender be on the channel before the
 * worker can answer, but never waits more than JOIN_WAIT_MS, nor past a `system` error.
 */
import { triggerRef } from 'vue'
import type { RealtimeChannel, RealtimeSystemPayload } from '@supabase/supabase-js'
import { supabase } from '@/lib/supabase'
import type { ChunkEvent, ChunkKind, DoneEvent } from '@/lib/stream'
import type { ChatMessage, ChatSession } from '@/lib/types'
import type { ChatState } from './state'
import type { SessionList } from './sessions'
import type { ConversationRows } from './messages'
import { rejoining } from './rejoin'

const POLL_MS = 2500
const JOIN_WAIT_MS = 5000

export function sessionChannel(state: ChatState, list: SessionList, rows: ConversationRows) {
  const { channelState, streams } = state
  let channel: RealtimeChannel | null = null
  let joined: Promise<void> | null = null
  let poller: ReturnType<typeof setInterval> | null = null
  // The session followed, joined or between a close and its rejoin.
  let following: string | null = null
  const backoff = rejoining()

  function onChunk(event: ChunkEvent, kind: ChunkKind): void {
    if (rows.streamFor(event.message_id, event.reply_to).chunk(event, kind)) triggerRef(streams)
  }

  function join(id: string): void {
    following = id
    channelState.value = 'joining'
    connect(id)
    poller = setInterval(() => {
      const waiting = state.inFlight.value.map((t) => t.question.id)
      if (waiting.length > 0) void rows.fetchAnswers(waiting)
    }, POLL_MS)
  }

  function connect(id: string): void {
    const client = supabase()
    // A rejoin keeps showing the error (reconnecting) until joined, as realtime-js's own do.
    let resolveJoined: () => void = () => {}
    joined = new Promise((resolve) => (resolveJoined = resolve))
    const topic = client.channel(`chat:${id}`, { config: { private: true } })
    channel = topic
    // Whether this join (or realtime-js's rejoin after a lost socket) was answered: a system
    // message before that is about no binding of it.
    let replied = false
    topic
      .on('broadcast', { event: 'chunk' }, ({ payload }) => onChunk(payload as ChunkEvent, 'chunk'))
      .on('broadcast', { event: 'reasoning' }, ({ payload }) => onChunk(payload as ChunkEvent, 'reasoning'))
      .on('broadcast', { event: 'done' }, ({ payload }) => {
        const event = payload as DoneEvent
        if (rows.streamFor(event.message_id, event.reply_to).done(event)) triggerRef(streams)
        void rows.fetchAnswers([event.reply_to])
      })
      // Rows deleted in another tab or on another device: Realtime cannot filter a DELETE by
      // session_id (the table is not REPLICA IDENTITY FULL), so the database broadcasts their ids.
      .on('broadcast', { event: 'deleted' }, ({ payload }) => {
        if (state.currentId.value !== id) return
        for (const gone of (payload as { ids?: string[] }).ids ?? []) rows.drop(gone)
      })
      .on(
        'postgres_changes',
        { event: '*', schema: 'public', table: 'chat_messages', filter: `session_id=eq.${id}` },
        (change) => {
          if (state.currentId.value !== id) return
          if (change.eventType === 'DELETE') {
            const old = change.old as { id?: string }
            if (old.id) rows.drop(old.id)
          } else {
            rows.upsert(change.new as ChatMessage)
          }
        },
      )
      .on(
        'postgres_changes',
        { event: 'UPDATE', schema: 'public', table: 'chat_sessions', filter: `id=eq.${id}` },
        (change) => list.mergeSession(change.new as Partial<ChatSession> & { id: string }),
      )
      .on('system', {}, (message: RealtimeSystemPayload) => {
        if (channel !== topic || !replied || message.extension !== 'postgres_changes') return
        if (message.status === 'ok') {
          channelState.value = 'joined'
          resolveJoined()
          // Read what changed before the bindings were stored (since the first read, or while away).
          void rows.loadMessages(id).catch(() => undefined)
          void list.refreshSession(id).catch(() => undefined)
        } else {
          channelState.value = 'error'
          resolveJoined()
        }
      })
    void client.realtime.setAuth().then(() => {
      if (channel !== topic) return // left meanwhile: not joined behind the store's back
      topic.subscribe((status) => {
        if (channel !== topic) return
        replied = status === 'SUBSCRIBED'
        if (replied) backoff.joined()
        if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') {
          // realtime-js joins it again by itself (its rejoin timer, or when the socket is back).
          channelState.value = 'error'
        } else if (status === 'CLOSED') {
          // The server closed it (its own leave is not heard: `channel` is no longer it), and
          // realtime-js dropped it for good: tear it down and join a new one after the backoff.
          channel = null
          topic.teardown()
          channelState.value = 'error'
          resolveJoined()
          backoff.closed(() => {
            if (following === id && channel === null) connect(id)
          })
        }
      })
    })
  }

  async function leave(): Promise<void> {
    if (poller) clearInterval(poller)
    poller = null
    backoff.stop()
    following = null
    const old = channel
    channel = null
    joined = null
    channelState.value = 'idle'
    if (old) await supabase().removeChannel(old)
  }

  async function waitJoined(): Promise<void> {
    if (!joined) return
    await Promise.race([joined, new Promise<void>((resolve) => setTimeout(resolve, JOIN_WAIT_MS))])
  }

  /** Whether a channel is open (joined, joining, or to be joined again after the server closed it). */
  function isOpen(): boolean {
    return following !== null
  }

  return { join, leave, waitJoined, isOpen }
}

export type SessionChannel = ReturnType<typeof sessionChannel>
