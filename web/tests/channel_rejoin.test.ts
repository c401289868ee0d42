/**
 * A channel the server stops is joined again, and what it shows is read again at the rejoin.
 * realtime-js rejoins by itself after a `phx_error`, a refused join and a lost socket (the stores
 * then only read again, at "Subscribed"), but not after a `phx_close` (the server closing a channel
 * it no longer allows: a `system` error, such as an expired token, then the close): realtime-js
 * drops that channel and reports CLOSED, and the store joins a new one after a backoff
 * (stores/chat/rejoin.ts), unless it left meanwhile (another chat opened, sign-out).
 *
 * The app's own supabase-js client talks to a fake Realtime server (tests/fakeRealtime.ts, protocol
 * 2.0.0 frames `[join_ref, ref, topic, event, payload]`).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FakeSocket, conversationReaders, type Frame } from './fakeRealtime'

vi.stubGlobal('WebSocket', FakeSocket)
window.__CHATGALAXY_CONFIG__ = { supabaseUrl: 'http://db.test', supabaseAnonKey: 'anon', apiUrl: 'http://api.test' }

const { chatState } = await import('@/stores/chat/state')
const { sessionChannel } = await import('@/stores/chat/channel')
const { userChannel } = await import('@/stores/chat/userChannel')
const { rejoining, REJOIN_MS, STEADY_MS } = await import('@/stores/chat/rejoin')
type SessionList = import('@/stores/chat/sessions').SessionList

/** The stores a test made, left after it (as the app leaves them) before the channels go. */
const made: { leave: () => Promise<void> }[] = []

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const settle = () => wait(20)

/** The joins of `topic` sent so far, on any socket. */
function joins(topic: string): { socket: FakeSocket; f: Frame }[] {
  const full = `realtime:${topic}`
  return FakeSocket.sockets.flatMap((socket) =>
    socket.sent.filter((f) => f[3] === 'phx_join' && f[2] === full).map((f) => ({ socket, f })),
  )
}

/** The `n`th join of `topic` (1: the first), waited for up to 4 s, as the server sees it. */
async function join(topic: string, n: number) {
  for (let i = 0; i < 800 && joins(topic).length < n; i++) await wait(5)
  const found = joins(topic)[n - 1]
  if (!found) throw new Error(`no join ${n} of ${topic}`)
  const { socket, f } = found
  const full = f[2]
  const config = f[4].config as { postgres_changes: Record<string, unknown>[] }
  return {
    socket,
    reply(): void {
      const bindings = config.postgres_changes.map((binding, i) => ({ ...binding, id: 100 + i }))
      socket.receive([f[0], f[1], full, 'phx_reply', { status: 'ok', response: { postgres_changes: bindings } }])
    },
    refuse(reason: string): void {
      socket.receive([f[0], f[1], full, 'phx_reply', { status: 'error', response: { reason } }])
    },
    system(status: 'ok' | 'error', message: string, extension = 'postgres_changes'): void {
      socket.receive([null, null, full, 'system', { extension, status, message, channel: topic }])
    },
    broadcast(event: string, payload: Record<string, unknown>): void {
      socket.receive([f[0], null, full, 'broadcast', { type: 'broadcast', event, payload }])
    },
    /** The server stops the channel (Realtime's `phx_close`, after a `system` error). */
    close(): void {
      socket.receive([f[0], f[0], full, 'phx_close', {}])
    },
    /** The channel's process on the server crashed (`phx_error`). */
    crash(): void {
      socket.receive([f[0], f[0], full, 'phx_error', {}])
    },
  }
}

type Joined = Awaited<ReturnType<typeof join>>

/** The open conversation `s1`'s channel, first joined (or answered by `answer`); `reads` lists
 * what it read since. */
async function conversation(answer?: (first: Joined) => void) {
  const state = chatState()
  state.currentId.value = 's1'
  const { reads, rows, list } = conversationReaders()
  const channel = sessionChannel(state, list, rows)
  made.push(channel)
  channel.join('s1')
  const first = await join('chat:s1', 1)
  if (answer) {
    answer(first)
  } else {
    first.reply()
    first.system('ok', 'Subscribed to PostgreSQL')
  }
  await settle()
  if (!answer) expect(state.channelState.value).toBe('joined')
  reads.length = 0
  return { state, channel, rows, first, reads }
}

/**
 * realtime-js's own second join of `chat:s1` answered: the conversation reads again, once, and no
 * rejoin of ours follows it.
 */
async function rejoinedByRealtimeJs({ state, reads }: Awaited<ReturnType<typeof conversation>>) {
  const again = await join('chat:s1', 2)
  again.reply()
  again.system('ok', 'Subscribed to PostgreSQL')
  await settle()
  expect(state.channelState.value).toBe('joined')
  expect(reads.sort()).toEqual(['messages s1', 'session s1'])
  await wait(REJOIN_MS[1] + 200)
  expect(joins('chat:s1')).toHaveLength(2)
}

/** The list's channel `user:u1`, first joined; `refresh` counts the reads of the list since. */
async function userList() {
  const state = chatState()
  const list = {
    refresh: vi.fn(() => Promise.resolve()),
    refreshSession: vi.fn(() => Promise.resolve()),
    heard: vi.fn((apply: () => void) => apply()),
    dropSessions: vi.fn(),
    mergeSession: vi.fn(),
    addSessions: vi.fn(),
  }
  const channel = userChannel(state, list as unknown as SessionList, () => undefined)
  made.push(channel)
  void channel.follow('u1')
  const first = await join('user:u1', 1)
  first.reply()
  await settle()
  expect(list.refresh).toHaveBeenCalledTimes(1)
  list.refresh.mockClear()
  return { channel, list, first }
}

beforeEach(() => {
  FakeSocket.sockets = []
})

afterEach(async () => {
  vi.useRealTimers()
  for (const store of made.splice(0)) await store.leave()
  const { supabase } = await import('@/lib/supabase')
  await supabase().realtime.setAuth() // back to the session's token, if a test set one
  await supabase().removeAllChannels()
})

describe('the backoff of a rejoin', () => {
  it('waits longer after each close in a row, starts over after a steady join, and stops', () => {
    vi.useFakeTimers()
    const backoff = rejoining()
    const waited: number[] = []
    const closeAndRejoin = () => {
      const closedAt = Date.now()
      backoff.closed(() => waited.push(Date.now() - closedAt))
      vi.advanceTimersByTime(60_000)
    }
    // Closed right after each rejoin: each waits the next step (the last one repeated).
    for (let i = 0; i < REJOIN_MS.length + 1; i++) {
      closeAndRejoin()
      backoff.joined()
    }
    expect(waited).toEqual([...REJOIN_MS, REJOIN_MS[REJOIN_MS.length - 1]])
    // A join that held STEADY_MS starts the backoff over.
    vi.advanceTimersByTime(STEADY_MS)
    waited.length = 0
    closeAndRejoin()
    expect(waited).toEqual([REJOIN_MS[0]])
    // Stopped while a rejoin waits: it never comes.
    backoff.closed(() => waited.push(-1))
    backoff.stop()
    vi.advanceTimersByTime(60_000)
    expect(waited).toEqual([REJOIN_MS[0]])
  })
})

describe("the conversation's channel", () => {
  it('closed by the server (its token expired) is joined again, reads what it missed, and hears on the new one', async () => {
    const { state, rows, first, reads } = await conversation()
    first.system('error', 'Token has expired 0 seconds ago', 'system')
    first.close()
    await settle()
    // Not live meanwhile: it says so.
    expect(state.channelState.value).toBe('error')
    const second = await join('chat:s1', 2)
    expect(reads).toEqual([])
    second.reply()
    second.system('ok', 'Subscribed to PostgreSQL')
    await settle()
    expect(state.channelState.value).toBe('joined')
    expect(reads.sort()).toEqual(['messages s1', 'session s1'])
    second.broadcast('deleted', { ids: ['m1'] })
    await settle()
    expect(rows.drop).toHaveBeenCalledTimes(1)
    expect(joins('chat:s1')).toHaveLength(2)
  }, 10_000)

  it('after a phx_error is joined again by realtime-js itself, on the one channel, and reads again', async () => {
    const opened = await conversation()
    opened.first.crash()
    await settle()
    expect(opened.state.channelState.value).toBe('error')
    await rejoinedByRealtimeJs(opened)
  }, 10_000)

  it('a refused join is tried again by realtime-js, and reads once joined', async () => {
    const opened = await conversation((first) =>
      first.refuse('Unauthorized: You do not have permissions to read from this Channel topic: chat:s1'),
    )
    expect(opened.state.channelState.value).toBe('error')
    await rejoinedByRealtimeJs(opened)
  }, 10_000)

  it('after a lost socket is joined again by realtime-js on the new one, and reads again', async () => {
    const { state, first, reads } = await conversation()
    first.socket.close(1006)
    const second = await join('chat:s1', 2)
    expect(second.socket).not.toBe(first.socket)
    second.reply()
    second.system('ok', 'Subscribed to PostgreSQL')
    await settle()
    expect(state.channelState.value).toBe('joined')
    expect(reads.sort()).toEqual(['messages s1', 'session s1'])
  }, 10_000)

  it('a token refresh joins nothing again; closed by it, it is joined again once, and backs off', async () => {
    const { supabase } = await import('@/lib/supabase')
    const { state, first, reads } = await conversation()
    await supabase().realtime.setAuth('refreshed-token')
    await settle()
    // realtime-js sends the new token on the channel; Realtime stores the bindings again.
    expect(first.socket.sent.filter((f) => f[3] === 'access_token').map((f) => f[4].access_token)).toEqual(['refreshed-token'])
    first.system('ok', 'Subscribed to PostgreSQL')
    await settle()
    expect(reads.sort()).toEqual(['messages s1', 'session s1'])
    expect(joins('chat:s1')).toHaveLength(1)
    // A refresh that loses the channel's read closes it: one join again (with the session's token).
    first.system('error', 'You no longer have permission to read from this Channel topic: chat:s1', 'system')
    first.close()
    const second = await join('chat:s1', 2)
    second.reply()
    second.close()
    // Closed again right after its join: the next waits longer (REJOIN_MS[1]), no tight loop.
    await wait(REJOIN_MS[0] + 300)
    expect(joins('chat:s1')).toHaveLength(2)
    await join('chat:s1', 3)
    expect(state.channelState.value).toBe('error')
  }, 10_000)

  it('left while a rejoin waits (another chat opened) joins nothing again', async () => {
    const { state, channel, first } = await conversation()
    first.close()
    await settle()
    await channel.leave()
    await wait(REJOIN_MS[0] + 300)
    expect(joins('chat:s1')).toHaveLength(1)
    expect(state.channelState.value).toBe('idle')
  }, 10_000)
})

describe("the list's channel", () => {
  it('closed by the server is joined again and reads the list again', async () => {
    const { list, first } = await userList()
    first.system('error', 'Token has expired 0 seconds ago', 'system')
    first.close()
    const second = await join('user:u1', 2)
    expect(list.refresh).not.toHaveBeenCalled()
    second.reply()
    await settle()
    expect(list.refresh).toHaveBeenCalledTimes(1)
    second.broadcast('sessions_deleted', { ids: ['s9'] })
    await settle()
    expect(list.dropSessions).toHaveBeenCalledTimes(1)
    expect(joins('user:u1')).toHaveLength(2)
  }, 10_000)

  it('after a phx_error is joined again by realtime-js itself, once, and reads the list again', async () => {
    const { list, first } = await userList()
    first.crash()
    const second = await join('user:u1', 2)
    second.reply()
    await settle()
    expect(list.refresh).toHaveBeenCalledTimes(1)
    await wait(REJOIN_MS[1] + 200)
    expect(joins('user:u1')).toHaveLength(2)
  }, 10_000)

  it('signed out while a rejoin waits joins nothing again', async () => {
    const { channel, first } = await userList()
    first.close()
    await settle()
    await channel.follow(null)
    await wait(REJOIN_MS[0] + 300)
    expect(joins('user:u1')).toHaveLength(1)
  }, 10_000)
})
