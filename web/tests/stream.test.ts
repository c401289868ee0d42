import { describe, expect, it } from 'vitest'
import { AnswerStream, type ChunkEvent, type DoneEvent } from '@/lib/stream'
import { answerView } from '@/lib/answer'
import type { ChatMessage } from '@/lib/types'

const chunk = (seq: number, delta: string, attempt = 1): ChunkEvent => ({ message_id: 'a1', reply_to: 'q1', attempt, seq, delta })
const done = (seq: number, attempt = 1, status: DoneEvent['status'] = 'completed'): DoneEvent => ({
  message_id: 'a1', reply_to: 'q1', attempt, seq, status,
})

describe('AnswerStream', () => {
  it('joins chunks in order', () => {
    const s = new AnswerStream()
    s.chunk(chunk(1, 'Hel'))
    s.chunk(chunk(2, 'lo'))
    expect(s.text).toBe('Hello')
    expect(s.status).toBe('streaming')
    expect(s.hasGap).toBe(false)
    expect(s.messageId).toBe('a1')
  })

  it('orders chunks that arrive out of order, showing only the gap-free prefix', () => {
    const s = new AnswerStream()
    s.chunk(chunk(1, 'a'))
    s.chunk(chunk(3, 'c'))
    expect(s.text).toBe('a')
    expect(s.hasGap).toBe(true)
    s.chunk(chunk(2, 'b'))
    expect(s.text).toBe('abc')
    expect(s.hasGap).toBe(false)
  })

  it('ignores duplicates', () => {
    const s = new AnswerStream()
    expect(s.chunk(chunk(1, 'a'))).toBe(true)
    expect(s.chunk(chunk(1, 'a'))).toBe(false)
    s.chunk(chunk(3, 'c'))
    expect(s.chunk(chunk(3, 'c'))).toBe(false)
    s.chunk(chunk(2, 'b'))
    expect(s.text).toBe('abc')
  })

  it('is finished when done arrives after every chunk', () => {
    const s = new AnswerStream()
    s.chunk(chunk(1, 'a'))
    s.chunk(chunk(2, 'b'))
    s.done(done(2))
    expect(s.finished).toBe(true)
    expect(s.status).toBe('completed')
  })

  it('needs the stored row when done reveals a missed chunk', () => {
    const s = new AnswerStream()
    s.chunk(chunk(1, 'a'))
    s.done(done(2))
    expect(s.hasGap).toBe(true)
    expect(s.finished).toBe(false)
    expect(s.needsRow).toBe(true)
    s.reconcile({ id: 'a1', content: 'ab', status: 'completed' })
    expect(s.text).toBe('ab')
    expect(s.finished).toBe(true)
    expect(s.needsRow).toBe(false)
  })

  it('lets a final stored row win over anything streamed, and ignores chunks after it', () => {
    const s = new AnswerStream()
    s.chunk(chunk(1, 'partial'))
    s.reconcile({ id: 'a1', content: 'stopped here', status: 'cancelled' })
    expect(s.text).toBe('stopped here')
    expect(s.status).toBe('cancelled')
    expect(s.chunk(chunk(2, 'late'))).toBe(false)
    expect(s.text).toBe('stopped here')
  })

  it('shows a live row that is ahead of the stream, then goes on with the stream', () => {
    const s = new AnswerStream()
    s.chunk(chunk(1, 'a'))
    s.reconcile({ id: 'a1', content: 'abc', status: 'streaming' })
    expect(s.text).toBe('abc')
    s.chunk(chunk(2, 'b'))
    s.chunk(chunk(3, 'c'))
    s.chunk(chunk(4, 'd'))
    expect(s.text).toBe('abcd')
  })

  it('starts over when the answer is retaken with a higher attempt, and drops the older attempt', () => {
    const s = new AnswerStream()
    s.chunk(chunk(1, 'old text'))
    s.chunk(chunk(1, 'new', 2))
    expect(s.text).toBe('new')
    expect(s.attempt).toBe(2)
    expect(s.chunk(chunk(2, ' stale', 1))).toBe(false)
    expect(s.done(done(2, 1))).toBe(false)
    s.chunk(chunk(2, ' text', 2))
    expect(s.text).toBe('new text')
  })

  it('keeps the error of a failed answer', () => {
    const s = new AnswerStream()
    s.done({ ...done(0, 1, 'error'), error_code: 'ProviderError', error_message: 'upstream failed' })
    expect(s.status).toBe('error')
    expect(s.errorCode).toBe('ProviderError')
    expect(s.finished).toBe(true)
  })
})

function row(patch: Partial<ChatMessage>): ChatMessage {
  return {
    id: 'a1', session_id: 's1', parent_id: 'q1', answer_no: 1, message_type: 'assistant', content: '', role_id: null, status: 'streaming',
    reply_to: 'q1', tokens_used: 0, response_time: null, error_code: null, error_message: null,
    cancel_requested: false, created_at: '2026-01-01T00:00:00Z', web_search: false, model: null, finish_reason: null,
    reasoning: null, reasoning_ms: null, sources: null, ...patch,
  }
}

describe('answerView', () => {
  it('waits with nothing yet', () => {
    const view = answerView(undefined, undefined)
    expect(view).toMatchObject({ id: null, text: '', status: 'pending', final: false })
  })

  it('prefers the longer of stream and live row, and is not final until the row is', () => {
    const s = new AnswerStream()
    s.chunk(chunk(1, 'abc'))
    expect(answerView(row({ content: 'ab' }), s)).toMatchObject({ text: 'abc', final: false, status: 'streaming' })
    expect(answerView(row({ content: 'abcdef' }), s).text).toBe('abcdef')
    s.done(done(1))
    expect(answerView(row({ content: 'abc' }), s)).toMatchObject({ final: false, status: 'streaming' })
  })

  it('shows the final row as it is stored', () => {
    const s = new AnswerStream()
    s.chunk(chunk(1, 'streamed text that is longer'))
    const view = answerView(row({ content: 'short', status: 'completed', tokens_used: 12, response_time: 900 }), s)
    expect(view).toMatchObject({ text: 'short', status: 'completed', final: true, tokens: 12, responseTime: 900 })
  })
})

describe('thinking', () => {
  const base = { message_id: 'a1', reply_to: 'q1', attempt: 1 }

  it('keeps reasoning and answer apart on one seq, and is thinking until the answer starts', () => {
    const s = new AnswerStream()
    expect(s.chunk({ ...base, seq: 1, delta: 'Let me ' }, 'reasoning')).toBe(true)
    expect(s.chunk({ ...base, seq: 3, delta: 'The answer' })).toBe(true) // arrives before seq 2
    expect(s.reasoning).toBe('Let me ')
    expect(s.text).toBe('')
    expect(s.thinking).toBe(true)
    s.chunk({ ...base, seq: 2, delta: 'think.' }, 'reasoning')
    expect(s.reasoning).toBe('Let me think.')
    expect(s.text).toBe('The answer')
    expect(s.thinking).toBe(false)
    s.done({ ...base, seq: 3, status: 'completed', reasoning_ms: 2400, sources: [{ index: 1, title: 'T', url: 'https://t.example/' }] })
    expect(s.reasoningMs).toBe(2400)
    expect(s.sources?.[0]?.url).toBe('https://t.example/')
    expect(s.finished).toBe(true)
  })

  it('a page opened mid-thinking starts from the row\'s reasoning and keeps each chunk\'s new part once', () => {
    const s = new AnswerStream()
    const live = row({ status: 'pending', content: '', reasoning: 'Let me th', attempts: 1 })
    s.reconcile(live)
    expect(s.reasoning).toBe('Let me th')
    s.chunk({ ...chunk(4, 'me think'), offset: 4 }, 'reasoning') // overlaps what the row had
    s.chunk({ ...chunk(6, ' more.'), offset: 24 }, 'reasoning') // beyond: waits for the gap to close
    expect(s.reasoning).toBe('Let me think')
    expect(s.hasGap).toBe(true)
    s.chunk({ ...chunk(5, ' it over and'), offset: 12 }, 'reasoning')
    expect(s.reasoning).toBe('Let me think it over and more.')
    expect(answerView(live, s).reasoning).toBe('Let me think it over and more.') // the longer one while live
    expect(s.thinking).toBe(true)
  })

  it('the stored row settles reasoning and sources in the view', () => {
    const stored = row({ status: 'completed', content: 'final', reasoning: 'thought', reasoning_ms: 1200, sources: [] })
    const view = answerView(stored, undefined)
    expect([view.text, view.reasoning, view.reasoningMs, view.thinkingNow]).toEqual(['final', 'thought', 1200, false])
  })
})
