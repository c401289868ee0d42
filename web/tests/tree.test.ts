import { describe, expect, it } from 'vitest'
import { branches } from '@/lib/tree'
import { AnswerStream } from '@/lib/stream'
import type { ChatMessage } from '@/lib/types'

let clock = 0
function msg(id: string, parent: string | null, type: 'user' | 'assistant' = 'user'): ChatMessage {
  clock += 1
  return {
    id, session_id: 's', parent_id: parent, answer_no: type === 'assistant' ? 1 : null, message_type: type,
    content: id, role_id: null, status: 'completed', reply_to: type === 'assistant' ? parent : null, tokens_used: 0,
    response_time: null, error_code: null, error_message: null, cancel_requested: false,
    created_at: `2026-01-01T00:00:${String(clock).padStart(2, '0')}Z`, web_search: false, model: null,
    finish_reason: null, reasoning: null, reasoning_ms: null, sources: null,
  }
}

describe('branches', () => {
  const q1 = msg('q1', null)
  const a1 = msg('a1', 'q1', 'assistant')
  const q2 = msg('q2', 'a1')
  const a2 = msg('a2', 'q2', 'assistant')
  const q2b = msg('q2b', 'a1') // an edit of q2
  const a2b = msg('a2b', 'q2b', 'assistant')
  const a2b2 = msg('a2b2', 'q2b', 'assistant') // a regenerated answer
  const all = [q1, a1, q2, a2, q2b, a2b, a2b2]

  it('follows the newest branch when no leaf is known', () => {
    const { path, siblings } = branches(all, null)
    expect(path.map((m) => m.id)).toEqual(['q1', 'a1', 'q2b', 'a2b2'])
    expect(siblings.get('q2b')).toEqual(['q2', 'q2b'])
    expect(siblings.get('a2b2')).toEqual(['a2b', 'a2b2'])
    expect(siblings.has('q1')).toBe(false)
  })

  it('shows the branch through the chosen message, down to its newest end', () => {
    expect(branches(all, 'q2').path.map((m) => m.id)).toEqual(['q1', 'a1', 'q2', 'a2'])
    expect(branches(all, 'a2b').path.map((m) => m.id)).toEqual(['q1', 'a1', 'q2b', 'a2b'])
  })

  it('is empty for an empty session and ignores an unknown leaf', () => {
    expect(branches([], 'x').path).toEqual([])
    expect(branches(all, 'gone').path.at(-1)?.id).toBe('a2b2')
  })
})

describe('AnswerStream by offset (resume)', () => {
  const event = (seq: number, offset: number, delta: string) => ({
    message_id: 'a', reply_to: 'q', attempt: 1, seq, offset, delta,
  })

  it('starts from the stored text and shows every character once', () => {
    const s = new AnswerStream()
    s.reconcile({ id: 'a', content: 'Hello, wor', status: 'streaming', attempts: 1 })
    s.chunk(event(3, 7, 'world'))
    s.chunk(event(4, 12, '! 你好'))
    expect(s.text).toBe('Hello, world! 你好')
  })

  it('holds a chunk beyond a gap until the row or earlier chunks close it', () => {
    const s = new AnswerStream()
    s.reconcile({ id: 'a', content: 'ab', status: 'streaming', attempts: 1 })
    s.chunk(event(5, 4, 'ef'))
    expect(s.text).toBe('ab')
    expect(s.hasGap).toBe(true)
    s.reconcile({ id: 'a', content: 'abcd', status: 'streaming', attempts: 1 })
    expect(s.text).toBe('abcdef')
    expect(s.hasGap).toBe(false)
  })

  it('counts characters as the database does (astral characters are one)', () => {
    const s = new AnswerStream()
    s.reconcile({ id: 'a', content: '😀x', status: 'streaming', attempts: 1 })
    s.chunk(event(2, 1, 'xy'))
    expect(s.text).toBe('😀xy')
  })
})
