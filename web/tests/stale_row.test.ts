/**
 * An answer row read while it was still streaming can arrive after its final row was heard (a
 * poll or refetch in flight): the page must keep the final row, not show the answer streaming again.
 */
import { describe, expect, it, vi } from 'vitest'
import type { ChatMessage } from '@/lib/types'

vi.mock('@/lib/supabase', () => ({
  supabase: () => ({
    from: () => ({ select: () => ({ eq: () => ({ maybeSingle: () => Promise.resolve({ data: null, error: null }) }) }) }),
  }),
}))

const { chatState } = await import('@/stores/chat/state')
const { sessionList } = await import('@/stores/chat/sessions')
const { conversationRows } = await import('@/stores/chat/messages')

function answer(status: ChatMessage['status'], content: string): ChatMessage {
  return {
    id: 'a1', session_id: 's1', parent_id: 'q1', answer_no: 1, message_type: 'assistant', content, role_id: null,
    status, reply_to: 'q1', tokens_used: 0, response_time: null, error_code: null, error_message: null,
    cancel_requested: false, created_at: '2026-01-01T00:00:01Z', web_search: false, model: null, finish_reason: null,
    reasoning: null, reasoning_ms: null, sources: null,
  }
}

describe('an answer row that arrives late', () => {
  it('does not put a final answer back to streaming', () => {
    const state = chatState()
    state.currentId.value = 's1'
    const rows = conversationRows(state, sessionList(state))
    rows.upsert(answer('completed', 'the whole answer'))
    rows.upsert(answer('streaming', 'the whole'))
    expect(state.messages.value.find((m) => m.id === 'a1')).toMatchObject({ status: 'completed', content: 'the whole answer' })
  })

  it('still lets a streaming answer become final', () => {
    const state = chatState()
    state.currentId.value = 's1'
    const rows = conversationRows(state, sessionList(state))
    rows.upsert(answer('streaming', 'the whole'))
    rows.upsert(answer('completed', 'the whole answer'))
    expect(state.messages.value.find((m) => m.id === 'a1')?.status).toBe('completed')
  })
})
