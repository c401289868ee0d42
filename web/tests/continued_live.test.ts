/**
 * An answer that continued the words a /v1 request ended with (Qwen's partial mode), heard on
 * Realtime before any read of it (the day's API chat open while a script asks), shows its words as
 * soon as it appears: the change carries the row's columns, and the words are one of them
 * (`continues`, migrations/20261206172000). The page read them only from the computed field
 * `continued_words`, which no change carries, so the answer showed cut of its start until the 2.5 s
 * poll or the `done` broadcast read the row again (and for good, were that broadcast lost). No
 * request is made for it, for this answer or any other.
 */
import { describe, expect, it, vi } from 'vitest'
import type { ChatMessage } from '@/lib/types'

/** Every table read; a session's refresh (after a final answer) reads nothing. */
const { from } = vi.hoisted(() => ({
  from: vi.fn((_table: string) => ({
    select: () => ({ eq: () => ({ maybeSingle: () => Promise.resolve({ data: null, error: null }) }) }),
  })),
}))
vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn(), success: vi.fn() } }))
vi.mock('@/lib/supabase', () => ({ supabase: () => ({ from }) }))

const WORDS = '```json\n{"name": "'

/** A row as a postgres_changes payload gives it: the table's columns, no computed field. */
function heard(id: string, type: 'user' | 'assistant', patch: Record<string, unknown> = {}): ChatMessage {
  return {
    id, session_id: 's1', user_id: 'u1', parent_id: type === 'assistant' ? 'q' : null, answer_no: type === 'assistant' ? 1 : null,
    message_type: type, content: type === 'user' ? 'Name a scientist as JSON' : '', role_id: null,
    status: type === 'user' ? 'completed' : 'pending', reply_to: type === 'assistant' ? 'q' : null, tokens_used: 0,
    response_time: null, error_code: null, error_message: null, cancel_requested: false,
    created_at: type === 'user' ? '2026-01-01T00:00:00Z' : '2026-01-01T00:00:01Z', web_search: false, model: null,
    finish_reason: null, reasoning: null, reasoning_ms: null, sources: [], attachments: [], edited_from: null,
    continues: type === 'assistant' ? WORDS : null, ...patch,
  } as ChatMessage
}

describe('a continued answer heard on Realtime', () => {
  it('shows its words from its first change on, streaming and final, with no request', async () => {
    const { chatState } = await import('@/stores/chat/state')
    const { sessionList } = await import('@/stores/chat/sessions')
    const { conversationRows } = await import('@/stores/chat/messages')
    const state = chatState()
    state.currentId.value = 's1'
    const rows = conversationRows(state, sessionList(state))
    rows.upsert(heard('q', 'user'))
    rows.upsert(heard('a', 'assistant'))
    expect(state.turns.value[0]?.answer).toMatchObject({ text: WORDS, continued: WORDS, final: false })
    rows.upsert(heard('a', 'assistant', { status: 'streaming', content: 'Ada' }))
    expect(state.turns.value[0]?.answer).toMatchObject({ text: `${WORDS}Ada`, continued: WORDS })
    rows.upsert(heard('a', 'assistant', { status: 'completed', content: 'Ada"}\n```' }))
    expect(state.turns.value[0]?.answer).toMatchObject({ text: `${WORDS}Ada"}\n\`\`\``, continued: WORDS, final: true })
    // The words are heard in a later change too (a branch's copy gets them after its answers).
    rows.upsert(heard('b', 'assistant', { id: 'b', continues: null, status: 'completed', content: 'Plain.' }))
    expect(state.messages.value.find((m) => m.id === 'b')?.continues ?? null).toBeNull()
    expect(from).not.toHaveBeenCalledWith('chat_messages')
  })

  it('is read with its words, the column, not a computed field', async () => {
    const { MESSAGE_COLUMNS } = await import('@/lib/types')
    expect(MESSAGE_COLUMNS.split(',')).toContain('continues')
    expect(MESSAGE_COLUMNS.split(',')).not.toContain('continued_words')
  })
})
