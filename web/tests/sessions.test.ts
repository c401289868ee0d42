import { describe, expect, it } from 'vitest'
import { sessionOrder } from '@/lib/sessions'
import { nextAnswerNo } from '@/stores/chat/turns'
import type { ChatMessage, ChatSession } from '@/lib/types'

function session(id: string, patch: Partial<ChatSession>): ChatSession {
  return {
    id, role_id: null, title: id, message_count: 0, last_message_at: null, archived_at: null, model: null, thinking: null,
    current_leaf_id: null, branched: false, pinned_at: null, created_at: '2026-01-01T00:00:00Z', ...patch,
  }
}

describe('sessionOrder', () => {
  it('puts pinned sessions first, the most recently pinned on top, then the most recently active', () => {
    const list = [
      session('quiet', { created_at: '2026-01-01T00:00:00Z' }),
      session('busy', { last_message_at: '2026-01-03T00:00:00Z' }),
      session('pinnedEarly', { pinned_at: '2026-01-01T10:00:00Z' }),
      session('fresh', { created_at: '2026-01-02T00:00:00Z' }),
      session('pinnedLate', { pinned_at: '2026-01-02T10:00:00Z', last_message_at: '2025-12-01T00:00:00Z' }),
    ]
    expect(list.sort(sessionOrder).map((s) => s.id)).toEqual(['pinnedLate', 'pinnedEarly', 'busy', 'fresh', 'quiet'])
  })
})

describe('nextAnswerNo', () => {
  const answer = (id: string, replyTo: string, answerNo: number | null) =>
    ({ id, reply_to: replyTo, answer_no: answerNo, message_type: 'assistant' }) as ChatMessage

  it('asks for one past the highest answer to that question only', () => {
    const rows = [answer('a1', 'q1', 1), answer('a3', 'q1', 3), answer('b9', 'q2', 9)]
    expect(nextAnswerNo(rows, 'q1')).toBe(4)
    expect(nextAnswerNo(rows, 'q2')).toBe(10)
  })

  it('asks for the first answer of an unanswered question, and counts an unnumbered answer as the first', () => {
    expect(nextAnswerNo([], 'q1')).toBe(1)
    expect(nextAnswerNo([answer('a1', 'q1', null)], 'q1')).toBe(2)
  })
})
