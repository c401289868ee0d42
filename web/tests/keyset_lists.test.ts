/**
 * The chat list (sidebar and /history) reads its next page after the last row read, by the cursor
 * the database gives each row (`page_cursor`), not by an offset: a chat deleted or made elsewhere
 * between two pages moved every later row by one, so a chat was skipped (a deletion; the 20-row
 * overlap read before the list's end caught one or two, not more) or read twice. A fake
 * `sessions_page` stands in for the database: rows in its order, a page after a cursor.
 */
import { describe, expect, it, vi } from 'vitest'
import type { ChatSession } from '@/lib/types'
import { readAfter } from '@/lib/pages'

const rows: (ChatSession & { page_cursor: string })[] = []
const calls: { name: string; args: Record<string, unknown> }[] = []

/** Rows after `after` (by place in `rows`, the database's order), `max_rows` of them. */
function page(args: Record<string, unknown>) {
  const after = args.after as string | undefined
  const start = after === undefined ? 0 : rows.findIndex((r) => r.page_cursor < after) // cursors sort descending
  const found = start < 0 ? [] : rows.slice(start, start + (args.max_rows as number))
  return Promise.resolve({ data: found, error: null })
}

vi.mock('@/lib/supabase', () => ({
  supabase: () => ({
    rpc: (name: string, args: Record<string, unknown>) => {
      calls.push({ name, args })
      return { select: () => page(args) }
    },
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

describe('readAfter', () => {
  it('says no next page when the rows end with the page, and throws a refusal', async () => {
    const exact = () => Promise.resolve({ data: [{ id: 'a', page_cursor: 'ca' }], error: null })
    expect(await readAfter(exact, null, 1)).toEqual({ rows: [{ id: 'a' }], next: null })
    const refused = () => Promise.resolve({ data: null, error: { message: 'The cursor is not one this list gave.' } })
    await expect(readAfter(refused, 'bad', 10)).rejects.toMatchObject({ message: 'The cursor is not one this list gave.' })
  })
})
