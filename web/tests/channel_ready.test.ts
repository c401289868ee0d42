/**
 * The open conversation's channel is ready when Realtime has stored its postgres_changes bindings,
 * which it says in a `system` message ("Subscribed to PostgreSQL") after the join's reply: a change
 * committed between the two reaches no one. So the channel counts as joined only at that message,
 * and then reads the conversation (its rows and the session row) once more, for whatever changed
 * between the first read and then. Realtime says it again whenever it stores the bindings again
 * (its change stream for the project came back), and sends a `system` error while it cannot.
 *
 * The app's own supabase-js client talks to a fake Realtime server (tests/fakeRealtime.ts, protocol
 * 2.0.0 frames `[join_ref, ref, topic, event, payload]`).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FakeSocket, conversationReaders, until } from './fakeRealtime'

vi.stubGlobal('WebSocket', FakeSocket)
window.__CHATGALAXY_CONFIG__ = { supabaseUrl: 'http://db.test', supabaseAnonKey: 'anon', apiUrl: 'http://api.test' }

const { chatState } = await import('@/stores/chat/state')
const { sessionChannel } = await import('@/stores/chat/channel')

/** A conversation's channel on the fake server, joined up to its reply (the test says what comes next). */
async function opened() {
  const state = chatState()
  state.currentId.value = 's1'
  const { reads, rows, list } = conversationReaders()
  const channel = sessionChannel(state, list, rows)
  channel.join('s1')
  await until(() => FakeSocket.sockets.some((s) => s.sent.some((f) => f[3] === 'phx_join')), 'the join')
  const socket = FakeSocket.sockets[FakeSocket.sockets.length - 1]!
  const join = socket.sent.find((f) => f[3] === 'phx_join')!
  const topic = join[2]
  const config = join[4].config as { postgres_changes: Record<string, unknown>[] }
  let waited = false
  void channel.waitJoined().then(() => (waited = true))
  const server = {
    reply(): void {
      const bindings = config.postgres_changes.map((binding, i) => ({ ...binding, id: 100 + i }))
      socket.receive([join[0], join[1], topic, 'phx_reply', { status: 'ok', response: { postgres_changes: bindings } }])
    },
    system(status: 'ok' | 'error', message: string): void {
      socket.receive([null, null, topic, 'system', { extension: 'postgres_changes', status, message, channel: 'chat:s1' }])
    },
  }
  return { state, channel, server, reads, waited: () => waited }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

beforeEach(() => {
  FakeSocket.sockets = []
})

afterEach(async () => {
  const { supabase } = await import('@/lib/supabase')
  await supabase().removeAllChannels()
})

describe("the conversation's channel", () => {
  it('is joined only once Realtime says its changes are subscribed, and then reads what it may have missed', async () => {
    const { state, server, reads, waited } = await opened()
    server.reply()
    await settle()
    // Between the reply and the system message a change reaches no one: not joined yet.
    expect(state.channelState.value).toBe('joining')
    expect(waited()).toBe(false)
    expect(reads).toEqual([])
    server.system('ok', 'Subscribed to PostgreSQL')
    await settle()
    expect(state.channelState.value).toBe('joined')
    expect(waited()).toBe(true)
    expect(reads.sort()).toEqual(['messages s1', 'session s1'])
  })

  it('reads again whenever Realtime stores the bindings again', async () => {
    const { state, server, reads } = await opened()
    server.reply()
    server.system('ok', 'Subscribed to PostgreSQL')
    await settle()
    reads.length = 0
    // Its change stream was lost and came back: what was written meanwhile reached no one.
    server.system('ok', 'Subscribed to PostgreSQL')
    await settle()
    expect(state.channelState.value).toBe('joined')
    expect(reads.sort()).toEqual(['messages s1', 'session s1'])
  })

  it('shows a system error on its changes, does not hold a sender, and is joined when they come back', async () => {
    const { state, server, reads, waited } = await opened()
    server.reply()
    server.system('error', 'Unable to subscribe to changes with given parameters')
    await settle()
    expect(state.channelState.value).toBe('error')
    expect(waited()).toBe(true)
    expect(reads).toEqual([])
    server.system('ok', 'Subscribed to PostgreSQL')
    await settle()
    expect(state.channelState.value).toBe('joined')
    expect(reads.sort()).toEqual(['messages s1', 'session s1'])
  })

  it('takes no system message before the reply of its join as ready', async () => {
    const { state, server, reads } = await opened()
    server.system('ok', 'Subscribed to PostgreSQL')
    await settle()
    expect(state.channelState.value).toBe('joining')
    expect(reads).toEqual([])
  })
})
