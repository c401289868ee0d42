/**
 * A conversation read again drops the rows it no longer finds: Realtime sends no DELETE to the
 * channel's `session_id` filter (a DELETE's filters see only its key), so a turn deleted in another
 * tab reaches this page only through a read. A row the read could not have found stays: a question
 * whose insert has not answered yet, or a row heard while the read was in flight.
 */
import { describe, expect, it, vi } from 'vitest'
import type { ChatMessage } from '@/lib/types'
import { heldQuery, pending } from './heldQueries'

vi.mock('@/lib/supabase', () => ({ supabase: () => ({ from: heldQuery }) }))

const { chatState } = await import('@/stores/chat/state')
const { sessionList } = await import('@/stores/chat/sessions')
const { conversationRows } = await import('@/stores/chat/messages')

function row(id: string, second: number): ChatMessage {
  return {
    id, session_id: 's1', parent_id: null, answer_no: null, message_type: 'user', content: id, role_id: null,
    status: 'completed', reply_to: null, tokens_used: 0, response_time: null, error_code: null, error_message: null,
    cancel_requested: false, created_at: `2026-01-01T00:00:0${second}Z`, web_search: false, model: null,
    finish_reason: null, reasoning: null, reasoning_ms: null, sources: null,
  }
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 1))
  expect(condition()).toBe(true)
}

/** Read the conversation, the server answering `rows`; `meanwhile` runs while the read is in flight. */
async function read(rows: ReturnType<typeof conversationRows>, found: ChatMessage[], meanwhile = () => {}) {
  const done = rows.loadMessages('s1')
  await until(() => pending.length === 1)
  meanwhile()
  pending.splice(0)[0]!({ data: found, error: null, count: found.length })
  await done
}

function setup() {
  const state = chatState()
  state.currentId.value = 's1'
  const rows = conversationRows(state, sessionList(state))
  const shown = () => state.messages.value.map((m) => m.id)
  return { rows, shown }
}

describe('a conversation read again', () => {
  it('drops a row deleted elsewhere since it was read', async () => {
    const { rows, shown } = setup()
    await read(rows, [row('q0', 0), row('q1', 1)])
    await read(rows, [row('q1', 1)])
    expect(shown()).toEqual(['q1'])
  })

  it('drops a row heard before the read that the read did not find', async () => {
    const { rows, shown } = setup()
    await read(rows, [row('q0', 0)])
    rows.upsert(row('q1', 1)) // heard, then deleted elsewhere before the read
    await read(rows, [row('q0', 0)])
    expect(shown()).toEqual(['q0'])
  })

  it('keeps a question whose insert has not answered, and a row heard while the read was in flight', async () => {
    const { rows, shown } = setup()
    await read(rows, [row('q0', 0)])
    rows.upsert(row('q1', 1), true) // shown at once, its insert not answered yet
    await read(rows, [row('q0', 0)], () => rows.upsert(row('q2', 2)))
    expect(shown()).toEqual(['q0', 'q1', 'q2'])
    rows.upsert(row('q1', 1)) // its insert answered
    await read(rows, [row('q0', 0), row('q1', 1), row('q2', 2)])
    expect(shown()).toEqual(['q0', 'q1', 'q2'])
  })
})
