/**
 * The chat list (sidebar and /history) reads its next page after the last row read, by the cursor
 * the database gives each row (`page_cursor`), not by an offset: a chat deleted or made elsewhere
 * between two pages moved every later row by one, so a chat was skipped (a deletion; the 20-row
 * overlap read before the list's end caught one or two, not more) or read twice. A fake
 * `sessions_page` stands in for the database: rows in its order, a page after a cursor. An API key's
 * day of requests (written all day long by the key) does the same by `api_requests_page`.
 */
import { describe, expect, it, vi } from 'vitest'
import type { ChatSession } from '@/lib/types'
import { readAfter } from '@/lib/pages'
import { flushPromises, mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import ApiRequests from '@/components/ApiRequests.vue'
import { searchUsers } from '@/lib/admin'

const rows: (ChatSession & { page_cursor: string })[] = []
/** The day's requests of an API key's chat, newest first, for `api_requests_page`. */
const requests: { id: string; content: string; created_at: string; model: string | null; page_cursor: string }[] = []
const calls: { name: string; args: Record<string, unknown> }[] = []

/** Rows after `after` (by place in `rows`, the database's order), `max_rows` of them. */
function page(list: { page_cursor: string }[], args: Record<string, unknown>) {
  const after = args.after as string | undefined
  const start = after === undefined ? 0 : list.findIndex((r) => r.page_cursor < after) // cursors sort descending
  const found = start < 0 ? [] : list.slice(start, start + (args.max_rows as number))
  return Promise.resolve({ data: found, error: null })
}

/** The admin's user list, newest first, for `users_page`. */
const users: { id: string; username: string; email: string; created_at: string; user_plans: null; page_cursor: string }[] = []

/** `from(table).select(..., { head: true })` and its filters: the count of the day's requests. */
const counted = { eq: () => counted, is: () => counted, then: (done: (v: unknown) => void) => done({ count: requests.length, error: null }) }

vi.mock('@/lib/supabase', () => ({
  supabase: () => ({
    rpc: (name: string, args: Record<string, unknown>) => {
      calls.push({ name, args })
      const list = { sessions_page: rows, api_requests_page: requests, users_page: users }[name]
      return list ? { select: () => page(list, args) } : Promise.resolve({ error: null }) // audit_admin_read
    },
    from: () => ({ select: () => counted }),
  }),
}))

const { chatState } = await import('@/stores/chat/state')
const { sessionList } = await import('@/stores/chat/sessions')

function chat(n: number): ChatSession & { page_cursor: string } {
  const stamp = new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString()
  return {
    id: `s${n}`, role_id: null, title: `chat ${n}`, message_count: 1, last_message_at: stamp, archived_at: null,
    model: null, thinking: null, current_leaf_id: null, branched: false, pinned_at: null, created_at: stamp,
    page_cursor: `${String(n).padStart(4, '0')}`,
  }
}

describe('the chat list', () => {
  it('reads the next page after the last chat read, whatever was deleted or made meanwhile', async () => {
    rows.splice(0, rows.length, ...Array.from({ length: 450 }, (_, i) => chat(449 - i))) // newest first
    const state = chatState()
    const list = sessionList(state)
    await list.loadSessions()
    expect(state.sessions.value).toHaveLength(200)
    expect(state.sessionsMore.value).toBe(true)
    // Elsewhere: 30 chats of the first page deleted (more than any overlap), a new one made on top.
    rows.splice(5, 30)
    rows.unshift(chat(9000))
    await list.loadSessions(true)
    await list.loadSessions(true)
    expect(state.sessionsMore.value).toBe(false)
    const ids = state.sessions.value.map((s) => s.id)
    expect(new Set(ids).size).toBe(ids.length)
    // Every chat from the first page on shown once (the deleted ones as first read), none skipped.
    expect(ids.filter((id) => id !== 's9000').sort()).toEqual(Array.from({ length: 450 }, (_, i) => `s${i}`).sort())
    expect(state.sessions.value.every((s) => !('page_cursor' in s))).toBe(true)
    expect(calls.map((c) => c.args)).toEqual([
      { max_rows: 201 },
      { max_rows: 201, after: '0250' },
      { max_rows: 201, after: '0050' },
    ])
    expect(calls.every((c) => c.name === 'sessions_page')).toBe(true)
  })
})

describe("an API key's day of requests", () => {
  it('reads more after the last request shown, whatever the key sent meanwhile', async () => {
    const request = (n: number) => ({
      id: `q${n}`, content: `request ${n}`, created_at: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(), model: null,
      page_cursor: String(n).padStart(4, '0'),
    })
    requests.splice(0, requests.length, ...Array.from({ length: 30 }, (_, i) => request(29 - i)))
    calls.length = 0
    const view = mount(ApiRequests, { props: { sessionId: 'day', current: null }, global: { plugins: [makeI18n('en')] } })
    await view.find('[data-testid="api-requests-toggle"]').trigger('click')
    await flushPromises()
    expect(view.findAll('[data-testid="api-request"]')).toHaveLength(20)
    expect(view.text()).toContain('(30)')
    requests.unshift(request(100), request(99)) // two requests through the key meanwhile, on top
    await view.find('[data-testid="api-requests-more"]').trigger('click')
    await flushPromises()
    const shown = view.findAll('[data-testid="api-request"]').map((row) => row.text())
    expect(shown).toHaveLength(30) // request 29..0 once each (by offset 20: request 11 and 10 again)
    expect(new Set(shown).size).toBe(30)
    expect(view.find('[data-testid="api-requests-more"]').exists()).toBe(false)
    expect(calls.map((c) => [c.name, c.args])).toEqual([
      ['api_requests_page', { session: 'day', max_rows: 21 }],
      ['api_requests_page', { session: 'day', max_rows: 21, after: '0010' }],
    ])
  })
})

describe('readAfter', () => {
  it('says no next page when the rows end with the page, and throws a refusal', async () => {
    const exact = () => Promise.resolve({ data: [{ id: 'a', page_cursor: 'ca' }], error: null })
    expect(await readAfter(exact, null, 1)).toEqual({ rows: [{ id: 'a' }], next: null })
    const refused = () => Promise.resolve({ data: null, error: { message: 'The cursor is not one this list gave.' } })
    await expect(readAfter(refused, 'bad', 10)).rejects.toMatchObject({ message: 'The cursor is not one this list gave.' })
  })
})

describe("the admin's user list", () => {
  it('reads the next page after the last user shown, whatever signed up or was deleted meanwhile', async () => {
    const user = (n: number) => ({
      id: `u${n}`, username: `member${n}`, email: `m${n}@example.com`, created_at: '2026-01-01T00:00:00Z', user_plans: null,
      page_cursor: String(n).padStart(4, '0'),
    })
    users.splice(0, users.length, ...Array.from({ length: 150 }, (_, i) => user(149 - i)))
    calls.length = 0
    const first = await searchUsers(' member ')
    users.splice(10, 40) // 40 accounts of the first page deleted
    users.unshift(user(500)) // a sign-up meanwhile
    const second = await searchUsers('member', first.next)
    expect(second.next).toBeNull()
    const shown = [...first.users, ...second.users].map((u) => u.username)
    expect(shown).toEqual(Array.from({ length: 150 }, (_, i) => `member${149 - i}`))
    expect(second.users[0]).toEqual({ id: 'u49', username: 'member49', email: 'm49@example.com', created_at: '2026-01-01T00:00:00Z', plan_id: null, disabled: false })
    expect(calls.map((c) => [c.name, c.args])).toEqual([
      ['users_page', { q: 'member', max_rows: 101 }],
      ['audit_admin_read', { action: 'list_users', target: null, details: { q: 'member', after: null } }],
      ['users_page', { q: 'member', max_rows: 101, after: '0050' }],
      ['audit_admin_read', { action: 'list_users', target: null, details: { q: 'member', after: '0050' } }],
    ])
  })
})
