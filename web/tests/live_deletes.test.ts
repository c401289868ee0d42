/**
 * A delete made in another tab or on another device reaches this one live, on private channels
 * (Realtime cannot filter a DELETE by session, so the database broadcasts it): `deleted` {ids} on
 * the open conversation's `chat:<session>` takes those rows off the page; `sessions_deleted` {ids}
 * on the user's `user:<id>` takes chats off the list (and an open one is gone), and `session` {row}
 * brings a rename, pin or archive into the list.
 *
 * The app's own supabase-js client talks to a fake Realtime server (tests/fakeRealtime.ts, protocol
 * 2.0.0 frames `[join_ref, ref, topic, event, payload]`).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FakeSocket, until } from './fakeRealtime'
import type { ChatMessage, ChatSession } from '@/lib/types'

vi.stubGlobal('WebSocket', FakeSocket)
window.__CHATGALAXY_CONFIG__ = { supabaseUrl: 'http://db.test', supabaseAnonKey: 'anon', apiUrl: 'http://api.test' }

const { chatState } = await import('@/stores/chat/state')
const { sessionChannel } = await import('@/stores/chat/channel')
const { sessionList } = await import('@/stores/chat/sessions')
const { conversationRows } = await import('@/stores/chat/messages')
const { userChannel } = await import('@/stores/chat/userChannel')

/** The join of `topic` on the fake server, answered ok; returns how to broadcast on it. */
async function joined(topic: string) {
  const full = `realtime:${topic}`
  await until(() => FakeSocket.sockets.some((s) => s.sent.some((f) => f[3] === 'phx_join' && f[2] === full)), `the join of ${topic}`)
  const socket = FakeSocket.sockets.find((s) => s.sent.some((f) => f[3] === 'phx_join' && f[2] === full))!
  const join = socket.sent.find((f) => f[3] === 'phx_join' && f[2] === full)!
  const config = join[4].config as { private: boolean; postgres_changes?: Record<string, unknown>[] }
  const bindings = (config.postgres_changes ?? []).map((binding, i) => ({ ...binding, id: 100 + i }))
  socket.receive([join[0], join[1], full, 'phx_reply', { status: 'ok', response: { postgres_changes: bindings } }])
  return {
    private: config.private,
    broadcast(event: string, payload: Record<string, unknown>): void {
      socket.receive([null, null, full, 'broadcast', { type: 'broadcast', event, payload }])
    },
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

function message(id: string, extra: Partial<ChatMessage> = {}): ChatMessage {
  return { id, session_id: 's1', message_type: 'user', content: id, reply_to: null, created_at: '2026-12-06T00:00:00Z', ...extra } as ChatMessage
}

function session(id: string, extra: Partial<ChatSession> = {}): ChatSession {
  return { id, title: id, pinned_at: null, archived_at: null, last_message_at: null, created_at: '2026-12-06T00:00:00Z', ...extra } as ChatSession
}

beforeEach(() => {
  FakeSocket.sockets = []
})

afterEach(async () => {
  const { supabase } = await import('@/lib/supabase')
  await supabase().removeAllChannels()
})

describe('a delete made elsewhere', () => {
  it("takes a deleted turn's rows off the open conversation, and only those", async () => {
    const state = chatState()
    state.currentId.value = 's1'
    const list = sessionList(state)
    const rows = conversationRows(state, list)
    state.messages.value = [message('q1'), message('a1', { message_type: 'assistant', reply_to: 'q1' }), message('q2')]
    sessionChannel(state, list, rows).join('s1')
    const server = await joined('chat:s1')
    expect(server.private).toBe(true)
    server.broadcast('deleted', { ids: ['q1', 'a1'], id: 'x' })
    await settle()
    expect(state.messages.value.map((m) => m.id)).toEqual(['q2'])
  })

  it("takes deleted chats off the list, says the open one is gone, and brings a rename or pin in", async () => {
    const state = chatState()
    state.sessions.value = [session('s1'), session('s2'), session('s3')]
    state.currentId.value = 's2'
    const gone: string[] = []
    const list = sessionList(state)
    void userChannel(state, list, (id) => gone.push(id)).follow('u1')
    const server = await joined('user:u1')
    expect(server.private).toBe(true)
    server.broadcast('sessions_deleted', { ids: ['s2', 's9'], id: 'x' })
    await settle()
    expect(state.sessions.value.map((s) => s.id)).toEqual(['s1', 's3'])
    expect(gone).toEqual(['s2'])
    server.broadcast('session', { row: { id: 's3', title: 'renamed', pinned_at: '2026-12-06T01:00:00Z', archived_at: null }, id: 'y' })
    await settle()
    expect(state.sessions.value.map((s) => [s.id, s.title])).toEqual([['s3', 'renamed'], ['s1', 's1']])
    // A row the list does not hold (an older page, another user's never) adds nothing.
    server.broadcast('session', { row: { id: 's7', title: 'elsewhere', pinned_at: null, archived_at: null }, id: 'z' })
    await settle()
    expect(state.sessions.value.map((s) => s.id)).toEqual(['s3', 's1'])
  })
})
