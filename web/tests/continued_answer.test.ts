/**
 * An answer that continued the words a /v1 request ended with (Qwen's partial mode) is stored as the
 * continuation only; the words are its `continues` (a column of its row, 20261206172000). The page showed the
 * answer cut of its start (a prefilled '```json\n{"name": "' left 'Ada"}' and a fence closed but never
 * opened). Now the page shows the words and the answer as one Markdown piece under a note that says
 * so, copy copies both, and the Markdown export writes the note as a quote line then the whole answer.
 */
import { describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { makeI18n, type Locale } from '@/i18n'
import MessageTurn from '@/components/MessageTurn.vue'
import { answerView, turnsOf, type Turn } from '@/lib/answer'
import { chatMarkdown, type ExportLabels } from '@/lib/exportChat'
import { AnswerStream } from '@/lib/stream'
import { branches } from '@/lib/tree'
import type { ChatMessage } from '@/lib/types'

vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn(), success: vi.fn() } }))
vi.mock('@/lib/supabase', () => ({
  supabase: () => ({
    from: () => ({ select: () => ({ eq: () => ({ maybeSingle: () => Promise.resolve({ data: null, error: null }) }) }) }),
  }),
}))

const WORDS = '```json\n{"name": "'
const REST = 'Ada"}\n```'

function row(id: string, type: 'user' | 'assistant', patch: Partial<ChatMessage> = {}): ChatMessage {
  return {
    id, session_id: 's1', parent_id: type === 'assistant' ? 'q' : null, answer_no: type === 'assistant' ? 1 : null,
    message_type: type, content: type === 'user' ? 'Name a scientist as JSON' : REST, role_id: null, status: 'completed',
    reply_to: type === 'assistant' ? 'q' : null, tokens_used: 4, response_time: 900, error_code: null, error_message: null,
    cancel_requested: false, created_at: type === 'user' ? '2026-01-01T00:00:00Z' : '2026-01-01T00:00:01Z',
    web_search: false, model: 'qwen-plus', finish_reason: 'stop', reasoning: null, reasoning_ms: null, sources: null,
    continues: type === 'assistant' ? WORDS : null, ...patch,
  }
}

describe('an answer that continued the words given', () => {
  it('is the words then the continuation, final or streaming', () => {
    expect(answerView(row('a', 'assistant'), undefined)).toMatchObject({ text: WORDS + REST, continued: WORDS, final: true })
    const stream = new AnswerStream()
    stream.chunk({ message_id: 'a', reply_to: 'q', attempt: 1, seq: 1, delta: 'Ad' })
    const live = answerView(row('a', 'assistant', { status: 'streaming', content: '' }), stream)
    expect(live).toMatchObject({ text: `${WORDS}Ad`, continued: WORDS, final: false })
    const [turn] = turnsOf(branches([row('q', 'user'), row('a', 'assistant')], null), new Map(), new Map())
    expect(turn?.answer.text).toBe(WORDS + REST)
    // any other answer shows as stored, with no note
    expect(answerView(row('b', 'assistant', { continues: null }), undefined)).toMatchObject({ text: REST, continued: null })
  })

  it.each([
    ['en', 'Continues the words given in the request'],
    ['zh-CN', '续写请求中给出的开头'],
  ] as const)('shows in %s under a note, as one Markdown piece, and copies whole', async (locale: Locale, note) => {
    const writeText = vi.fn(() => Promise.resolve())
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true })
    const turn: Turn = {
      question: row('q', 'user'),
      answer: answerView(row('a', 'assistant'), undefined),
      questionSiblings: ['q'],
      answerSiblings: ['a'],
    }
    const wrapper = mount(MessageTurn, {
      props: { turn, last: true, roleName: 'Assistant', busy: false, apiRequest: false },
      global: { plugins: [createPinia(), makeI18n(locale)] },
    })
    expect(wrapper.get('[data-testid="answer-continued"]').text()).toBe(note)
    const text = wrapper.get('[data-testid="answer-text"]')
    // the fence the words open is closed by the continuation: one code block holding both
    expect(text.findAll('pre')).toHaveLength(1)
    expect(text.get('pre').text()).toContain('{"name": "Ada"}')
    expect(text.text()).not.toContain('```')
    await wrapper.get('[data-testid="copy-answer"]').trigger('click')
    expect(writeText).toHaveBeenCalledWith(WORDS + REST)
  })

  it('shows no note on an answer without words', () => {
    const turn: Turn = {
      question: row('q', 'user'),
      answer: answerView(row('a', 'assistant', { continues: null, content: 'Plain.' }), undefined),
      questionSiblings: ['q'],
      answerSiblings: ['a'],
    }
    const wrapper = mount(MessageTurn, {
      props: { turn, last: true, roleName: 'Assistant', busy: false },
      global: { plugins: [createPinia(), makeI18n('en')] },
    })
    expect(wrapper.find('[data-testid="answer-continued"]').exists()).toBe(false)
  })

  it('is exported as the note, a quote line, then the whole answer', () => {
    const labels: ExportLabels = {
      you: 'You', thinking: 'Thinking', sources: 'Sources', stopped: 'Stopped', failed: 'Failed', exported: 'Exported',
      continued: 'Continues the words given in the request', failure: () => null,
    }
    const turn: Turn = {
      question: row('q', 'user'),
      answer: answerView(row('a', 'assistant'), undefined),
      questionSiblings: ['q'],
      answerSiblings: ['a'],
    }
    const md = chatMarkdown('t', [turn], () => 'AI', labels, new Date('2026-12-04T10:00:00Z'))
    expect(md).toContain(`## AI\n\n> Continues the words given in the request\n\n${WORDS}${REST}\n\n---`)
    const plain = { ...turn, answer: answerView(row('a', 'assistant', { continues: null }), undefined) }
    expect(chatMarkdown('t', [plain], () => 'AI', labels, new Date())).not.toContain('> Continues')
  })
})

describe('a row heard on Realtime', () => {
  it('keeps the words read before when the change names none', async () => {
    const { chatState } = await import('@/stores/chat/state')
    const { sessionList } = await import('@/stores/chat/sessions')
    const { conversationRows } = await import('@/stores/chat/messages')
    const state = chatState()
    state.currentId.value = 's1'
    const rows = conversationRows(state, sessionList(state))
    rows.upsert(row('a', 'assistant', { status: 'streaming', content: 'Ad' }))
    const heard: Partial<ChatMessage> = { ...row('a', 'assistant') }
    delete heard.continues
    rows.upsert(heard as ChatMessage)
    expect(state.messages.value.find((m) => m.id === 'a')).toMatchObject({ content: REST, continues: WORDS })
  })
})
