/**
 * The session list follows the user's other tabs and devices on `user:<id>`: a chat created there
 * (`sessions_created` {rows, more}) joins the list in its order, once, even in the tab that created
 * it; the list is read again whenever the channel is joined (the first join, and a rejoin after a
 * lost socket: whatever was broadcast while it was away), and a change heard while a read of the
 * list is in flight is not undone by that read (it may have been taken before the change).
 *
 * The app's own supabase-js client talks to a fake Realtime server (tests/fakeRealtime.ts) and to a
 * held PostgREST (fetch stubbed: each request waits until the test answers it).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { FakeSocket, until } from './fakeRealtime'
import type { ChatSession } from '@/lib/types'

vi.stubGlobal('WebSocket', FakeSocket)
window.__CHATGALAXY_CONFIG__ = { supabaseUrl: 'http://db.test', supabaseAnonKey: 'anon', apiUrl: 'http://api.test' }

interface Held {
  url: string
  answer: (body: unknown, status?: number) => void
}
const held: Held[] = []
vi.stubGlobal('fetch', (input: string | URL | Request, init?: RequestInit) => {
  void init
  return new Promise<Response>((resolve) =>
    held.push({
      url: String(input instanceof Request ? input.url : input),
      answer: (body, status = 200) =>
        resolve(new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })),
    }),
  )
})

const { chatState } = await import('@/stores/chat/state')
const { sessionList } = await import('@/stores/chat/sessions')
const { userChannel } = await import('@/stores/chat/userChannel')

function session(id: string, extra: Partial<ChatSession> = {}): ChatSession {
  return {
    id, role_id: null, title: id, message_count: 0, last_message_at: null, archived_at: null, model: null, thinking: null,
    current_leaf_id: null, branched: false, pinned_at: null, created_at: '2026-12-06T00:00:00Z', api_day: null, ...extra,
  }
}

/** A page of the list and one row more (older chats follow), newest first. */
const pageful = () =>
  Array.from({ length: 201 }, (_, i) => session(`s${i}`, { created_at: new Date(Date.UTC(2026, 11, 5) - i * 1000).toISOString() }))

/** sessions_page's rows as PostgREST answers them, each with its cursor. */
const page = (rows: ChatSession[]) => rows.map((row) => ({ ...row, page_cursor: `c-${row.id}` }))

/** The next request to the list (sessions_page), held until answered. */
async function listRead(): Promise<Held> {
  await until(() => held.some((h) => h.url.includes('/rpc/sessions_page')), 'a read of the list')
  return held.splice(held.findIndex((h) => h.url.includes('/rpc/sessions_page')), 1)[0]!
}

/** The `n`th join of `topic` (1: the first) on the fake server, answered ok. */
async function joined(topic: string, n = 1) {
  const full = `realtime:${topic}`
  const joins = () => FakeSocket.sockets.flatMap((socket) => socket.sent.filter((f) => f[3] === 'phx_join' && f[2] === full).map((f) => ({ socket, f })))
  for (let i = 0; i < 600 && joins().length < n; i++) await new Promise((resolve) => setTimeout(resolve, 5))
  const { socket, f } = joins()[n - 1]!
  socket.receive([f[0], f[1], full, 'phx_reply', { status: 'ok', response: {} }])
  return {
    socket,
    broadcast(event: string, payload: Record<string, unknown>): void {
      socket.receive([f[0], null, full, 'broadcast', { type: 'broadcast', event, payload }])
    },
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20))
const ids = (state: { sessions: { value: ChatSession[] } }) => state.sessions.value.map((s) => s.id)

beforeEach(() => {
  FakeSocket.sockets = []
  held.length = 0
})

afterEach(async () => {
  const { supabase } = await import('@/lib/supabase')
  await supabase().removeAllChannels()
})

/** The list read once, and the user's channel joined (and its re-read answered with `after`). */
async function following(rows: ChatSession[], after = rows) {
  const state = chatState()
  const list = sessionList(state)
  const loaded = list.loadSessions()
  await (await listRead()).answer(page(rows))
  await loaded
  const channel = userChannel(state, list, () => undefined)
  void channel.follow('u1')
  const server = await joined('user:u1')
  ;(await listRead()).answer(page(after))
  await settle()
  return { state, list, server }
}

describe('a chat created elsewhere', () => {
  it('joins the list in its order, once', async () => {
    const { state, server } = await following([
      session('pinned', { pinned_at: '2026-12-05T00:00:00Z' }),
      session('old', { last_message_at: '2026-12-05T00:00:00Z' }),
    ])
    server.broadcast('sessions_created', { rows: [session('new', { created_at: '2026-12-06T10:00:00Z' })], more: false })
    await settle()
    expect(ids(state)).toEqual(['pinned', 'new', 'old'])
    server.broadcast('sessions_created', { rows: [session('new', { created_at: '2026-12-06T10:00:00Z' })], more: false })
    await settle()
    expect(ids(state)).toEqual(['pinned', 'new', 'old'])
  })

  it("is not listed twice in the tab that created it, whichever of the broadcast and the insert's answer comes first", async () => {
    const { state, list, server } = await following([session('old')])
    const made = list.createSession(null)
    await until(() => held.some((h) => h.url.includes('/chat_sessions')), 'the insert')
    const insert = held.splice(held.findIndex((h) => h.url.includes('/chat_sessions')), 1)[0]!
    // The database broadcasts at commit, which may reach this tab before the insert's own answer.
    const row = session('mine', { created_at: '2026-12-06T11:00:00Z' })
    server.broadcast('sessions_created', { rows: [row], more: false })
    await settle()
    insert.answer(row)
    await made
    expect(ids(state)).toEqual(['mine', 'old'])
  })

  it('past the pages read, is left for the next page', async () => {
    const state = chatState()
    const list = sessionList(state)
    const loaded = list.loadSessions()
    // One row more than the page asks for: older chats follow.
    const full = pageful()
    ;(await listRead()).answer(page(full))
    await loaded
    expect(state.sessionsMore.value).toBe(true)
    void userChannel(state, list, () => undefined).follow('u1')
    const server = await joined('user:u1')
    ;(await listRead()).answer(page(full))
    await settle()
    server.broadcast('sessions_created', { rows: [session('ancient', { created_at: '2020-01-01T00:00:00Z' })], more: false })
    await settle()
    expect(ids(state)).not.toContain('ancient')
  })

  it('too many at once to broadcast (`more`): the list is read again', async () => {
    const { state, server } = await following([session('old')])
    server.broadcast('sessions_created', { rows: [session('a', { created_at: '2026-12-06T10:00:00Z' })], more: true })
    const read = await listRead()
    read.answer(page([session('b', { created_at: '2026-12-06T10:00:01Z' }), session('a', { created_at: '2026-12-06T10:00:00Z' }), session('old')]))
    await settle()
    expect(ids(state)).toEqual(['b', 'a', 'old'])
  })
})

describe('a chat of an older page pinned elsewhere', () => {
  it('is read and joins the list on top, where a pin puts it', async () => {
    const state = chatState()
    const list = sessionList(state)
    const loaded = list.loadSessions()
    const full = pageful()
    ;(await listRead()).answer(page(full))
    await loaded
    void userChannel(state, list, () => undefined).follow('u1')
    const server = await joined('user:u1')
    ;(await listRead()).answer(page(full))
    await settle()
    const pinned = session('ancient', { created_at: '2020-01-01T00:00:00Z', pinned_at: '2026-12-06T12:00:00Z' })
    server.broadcast('session', { row: { id: 'ancient', title: 'ancient', pinned_at: pinned.pinned_at, archived_at: null } })
    await until(() => held.some((h) => h.url.includes('/chat_sessions') && h.url.includes('ancient')), 'the read of the pinned chat')
    held.splice(held.findIndex((h) => h.url.includes('ancient')), 1)[0]!.answer(pinned)
    await settle()
    expect(ids(state).slice(0, 2)).toEqual(['ancient', 's0'])
  })
})

describe("the user's channel and the reads of the list", () => {
  it('reads the list again when it joins: a change made between the first read and the join is not lost', async () => {
    const { state } = await following([session('s1')], [session('s2', { created_at: '2026-12-06T10:00:00Z' }), session('s1')])
    expect(ids(state)).toEqual(['s2', 's1'])
  })

  it('reads the list again after a rejoin: what was broadcast while it was away is not lost', async () => {
    const { state, server } = await following([session('s1'), session('s2')])
    server.socket.close(1006)
    const again = await joined('user:u1', 2)
    ;(await listRead()).answer(page([session('s3', { created_at: '2026-12-06T10:00:00Z' }), session('s1', { title: 'renamed' })]))
    await settle()
    expect(state.sessions.value.map((s) => [s.id, s.title])).toEqual([['s3', 's3'], ['s1', 'renamed']])
    again.broadcast('sessions_deleted', { ids: ['s3'] })
    await settle()
    expect(ids(state)).toEqual(['s1'])
  }, 10_000)

  it('a change heard while a read is in flight is not undone by that read', async () => {
    const state = chatState()
    const list = sessionList(state)
    const loaded = list.loadSessions()
    const first = await listRead()
    void userChannel(state, list, () => undefined).follow('u1')
    const server = await joined('user:u1')
    const rejoinRead = await listRead()
    // Heard while both reads are in flight (each may have been taken before them).
    server.broadcast('sessions_created', { rows: [session('new', { created_at: '2026-12-06T10:00:00Z' })], more: false })
    server.broadcast('session', { row: { id: 's1', title: 'renamed', pinned_at: null, archived_at: null } })
    server.broadcast('sessions_deleted', { ids: ['s2'] })
    await settle()
    rejoinRead.answer(page([session('s1'), session('s2')]))
    await settle()
    first.answer(page([session('s1'), session('s2'), session('s0')]))
    await loaded
    await settle()
    // The later read stands (the first, answering last, is older), with what was heard over it.
    expect(state.sessions.value.map((s) => [s.id, s.title])).toEqual([['new', 'new'], ['s1', 'renamed']])
  })

  it("a re-read that lands clears the error the failed first read left shown", async () => {
    const state = chatState()
    const list = sessionList(state)
    const loaded = list.loadSessions()
    ;(await listRead()).answer({ code: 'XX000', message: 'down for a moment', details: null, hint: null }, 503)
    await loaded
    expect(state.sessionsError.value).not.toBeNull()
    void userChannel(state, list, () => undefined).follow('u1')
    await joined('user:u1')
    ;(await listRead()).answer(page([session('s1')]))
    await settle()
    expect([ids(state), state.sessionsError.value]).toEqual([['s1'], null])
  })

  it('keeps the open chat of an older page when the list is read again', async () => {
    const state = chatState()
    const list = sessionList(state)
    const loaded = list.loadSessions()
    const full = pageful()
    ;(await listRead()).answer(page(full))
    await loaded
    // Opened from a link or a search hit: read and listed on its own.
    list.put(session('ancient', { created_at: '2020-01-01T00:00:00Z' }))
    state.currentId.value = 'ancient'
    void userChannel(state, list, () => undefined).follow('u1')
    await joined('user:u1')
    ;(await listRead()).answer(page(full))
    await settle()
    expect(state.current.value?.id).toBe('ancient')
  })
})
