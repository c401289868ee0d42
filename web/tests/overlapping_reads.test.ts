/**
 * Two reads of one conversation can be in flight at once: opening it reads it, and its channel
 * reads it again once Realtime has stored its bindings (channel_ready.test.ts). The later read saw
 * the newer rows; an earlier one answering after it must not put its older rows back (an answer
 * streaming again, a row deleted meanwhile shown again).
 */
import { describe, expect, it, vi } from 'vitest'
import type { ChatMessage } from '@/lib/types'
import { heldQuery, pending, type Answer } from './heldQueries'

vi.mock('@/lib/supabase', () => ({ supabase: () => ({ from: heldQuery }) }))

const { chatState } = await import('@/stores/chat/state')
const { sessionList } = await import('@/stores/chat/sessions')
const { conversationRows } = await import('@/stores/chat/messages')

function row(id: string, at: string, extra: Partial<ChatMessage> = {}): ChatMessage {
  return {
    id, session_id: 's1', parent_id: null, answer_no: 1, message_type: 'user', content: id, role_id: null,
    status: 'completed', reply_to: null, tokens_used: 0, response_time: null, error_code: null, error_message: null,
    cancel_requested: false, created_at: at, web_search: false, model: null, finish_reason: null,
    reasoning: null, reasoning_ms: null, sources: null, ...extra,
  }
}

const question = row('q1', '2026-01-01T00:00:01Z')
const answer = (status: ChatMessage['status'], content: string) =>
  row('a1', '2026-01-01T00:00:02Z', { message_type: 'assistant', parent_id: 'q1', reply_to: 'q1', status, content })
const gone = row('q0', '2026-01-01T00:00:00Z')

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 1))
  expect(condition()).toBe(true)
}

describe('two reads of a conversation at once', () => {
  it('keeps the later read when the earlier one answers last', async () => {
    const state = chatState()
    state.currentId.value = 's1'
    const rows = conversationRows(state, sessionList(state))
    const first = rows.loadMessages('s1')
    await until(() => pending.length === 1)
    const second = rows.loadMessages('s1')
    await until(() => pending.length === 2)
    const [answerFirst, answerSecond] = pending.splice(0) as [(a: Answer) => void, (a: Answer) => void]
    // The later read: the answer done, a message deleted meanwhile gone.
    answerSecond({ data: [question, answer('completed', 'the whole answer')], error: null, count: 2 })
    await second
    answerFirst({ data: [gone, question, answer('streaming', 'the whole')], error: null, count: 3 })
    await first
    expect(state.messages.value.map((m) => [m.id, m.status, m.content])).toEqual([
      ['q1', 'completed', 'q1'],
      ['a1', 'completed', 'the whole answer'],
    ])
  })

  it('takes an earlier read that answers first, then the later one', async () => {
    const state = chatState()
    state.currentId.value = 's1'
    const rows = conversationRows(state, sessionList(state))
    const first = rows.loadMessages('s1')
    await until(() => pending.length === 1)
    const second = rows.loadMessages('s1')
    await until(() => pending.length === 2)
    const [answerFirst, answerSecond] = pending.splice(0) as [(a: Answer) => void, (a: Answer) => void]
    answerFirst({ data: [question, answer('streaming', 'the whole')], error: null, count: 2 })
    await first
    expect(state.messages.value.map((m) => m.status)).toEqual(['completed', 'streaming'])
    answerSecond({ data: [question, answer('completed', 'the whole answer')], error: null, count: 2 })
    await second
    expect(state.messages.value.map((m) => [m.id, m.status])).toEqual([
      ['q1', 'completed'],
      ['a1', 'completed'],
    ])
  })
})
