import { describe, expect, it } from 'vitest'
import { turnsOf } from '@/lib/answer'
import { branches } from '@/lib/tree'
import { AnswerStream } from '@/lib/stream'
import type { ChatMessage } from '@/lib/types'

let clock = 0
function msg(id: string, parent: string | null, type: 'user' | 'assistant' = 'user', patch: Partial<ChatMessage> = {}): ChatMessage {
  clock += 1
  return {
    id, session_id: 's', parent_id: parent, answer_no: type === 'assistant' ? 1 : null, message_type: type,
    content: id, role_id: null, status: 'completed', reply_to: type === 'assistant' ? parent : null, tokens_used: 0,
    response_time: null, error_code: null, error_message: null, cancel_requested: false,
    created_at: `2026-01-01T00:00:${String(clock).padStart(2, '0')}Z`, web_search: false, model: null,
    finish_reason: null, reasoning: null, reasoning_ms: null, sources: null, ...patch,
  }
}

describe('turnsOf', () => {
  it('pairs each question on the path with its answer and their siblings', () => {
    const q1 = msg('q1', null)
    const a1 = msg('a1', 'q1', 'assistant')
    const q2 = msg('q2', 'a1')
    const q2b = msg('q2b', 'a1') // an edit of q2
    const a2b = msg('a2b', 'q2b', 'assistant')
    const a2b2 = msg('a2b2', 'q2b', 'assistant', { content: 'second answer' })
    const turns = turnsOf(branches([q1, a1, q2, q2b, a2b, a2b2], null), new Map(), new Map())
    expect(turns.map((t) => [t.question.id, t.answer.id, t.answer.text])).toEqual([
      ['q1', 'a1', 'a1'],
      ['q2b', 'a2b2', 'second answer'],
    ])
    expect(turns[0]?.questionSiblings).toEqual(['q1'])
    expect(turns[0]?.answerSiblings).toEqual(['a1'])
    expect(turns[1]?.questionSiblings).toEqual(['q2', 'q2b'])
    expect(turns[1]?.answerSiblings).toEqual(['a2b', 'a2b2'])
  })

  it('shows a question whose answer row is not read yet from the newest stream heard for it', () => {
    const q1 = msg('q1', null)
    const stream = new AnswerStream()
    stream.chunk({ message_id: 'a9', reply_to: 'q1', attempt: 1, seq: 1, delta: 'Hel' })
    const tree = branches([q1], null)
    const [waiting] = turnsOf(tree, new Map(), new Map())
    expect(waiting?.answer).toMatchObject({ id: null, text: '', status: 'pending', final: false })
    expect(waiting?.answerSiblings).toEqual([])
    const [live] = turnsOf(tree, new Map([['a9', stream]]), new Map([['q1', 'a9']]))
    expect(live?.answer).toMatchObject({ id: 'a9', text: 'Hel', status: 'streaming', final: false })
  })

  it('does not pair a question with an answer that belongs to another question', () => {
    const q1 = msg('q1', null)
    const stray = msg('x1', 'q1', 'assistant', { reply_to: 'other' })
    const [turn] = turnsOf(branches([q1, stray], 'x1'), new Map(), new Map())
    expect(turn?.answer.id).toBeNull()
  })

  it('keeps the turns a chunk does not change as the same objects, so only the streaming one renders again', () => {
    const usage = { input_tokens: 12, output_tokens: 30 }
    const q1 = msg('q1', null)
    const a1 = msg('a1', 'q1', 'assistant', { content: 'first answer', ...usage })
    const q2 = msg('q2', 'a1')
    const tree = branches([q1, a1, q2], 'q2')
    const stream = new AnswerStream()
    const streams = new Map([['a2', stream]])
    const latest = new Map([['q2', 'a2']])
    stream.chunk({ message_id: 'a2', reply_to: 'q2', attempt: 1, seq: 1, delta: 'Hel' })
    const before = turnsOf(tree, streams, latest)
    stream.chunk({ message_id: 'a2', reply_to: 'q2', attempt: 1, seq: 2, delta: 'lo' })
    const after = turnsOf(tree, streams, latest, before)
    expect(after[0]).toBe(before[0]) // the answered turn, its usage an equal object built again
    expect(after[1]).not.toBe(before[1])
    expect(after[1]?.answer.text).toBe('Hello')
    expect(before[1]?.answer.text).toBe('Hel')
    // A row that changed (here its content, read again) is a new turn.
    const edited = { ...a1, content: 'first answer, edited' }
    const again = turnsOf(branches([q1, edited, q2], 'q2'), streams, latest, after)
    expect(again[0]).not.toBe(after[0])
    expect(again[0]?.answer.text).toBe('first answer, edited')
    expect(again[1]).toBe(after[1])
  })
})
