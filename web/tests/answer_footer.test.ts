/**
 * An answer's footer holds only its actions (‹ n / m ›, copy, regenerate, branch), so on a phone, where
 * each is a 44px icon, they keep one line; the answer's state and figures (stopped, tokens, seconds)
 * are in its byline beside the persona's name. Each icon-only action keeps its words for a screen
 * reader, in both languages. (The phone's layout itself is measured by tests/e2e/test_trees.py.)
 */
import { describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { makeI18n, type Locale } from '@/i18n'
import MessageTurn from '@/components/MessageTurn.vue'
import { answerView, type Turn } from '@/lib/answer'
import type { ChatMessage } from '@/lib/types'

vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn(), success: vi.fn() } }))

function message(id: string, type: 'user' | 'assistant', status: ChatMessage['status'] = 'completed'): ChatMessage {
  return {
    id, session_id: 's', parent_id: type === 'assistant' ? 'q' : null, answer_no: type === 'assistant' ? 2 : null,
    message_type: type, content: type === 'user' ? 'hello' : 'An answer.', role_id: null, status,
    reply_to: type === 'assistant' ? 'q' : null, tokens_used: 182, response_time: 4600, error_code: null,
    error_message: null, cancel_requested: false, created_at: '2026-01-01T00:00:00Z', web_search: false, model: null,
    finish_reason: 'stop', reasoning: null, reasoning_ms: null, sources: null, input_tokens: 33, output_tokens: 149,
  }
}

function mountTurn(locale: Locale, status: ChatMessage['status'] = 'completed') {
  const turn: Turn = {
    question: message('q', 'user'),
    answer: answerView(message('a2', 'assistant', status), undefined),
    questionSiblings: ['q'],
    answerSiblings: ['a1', 'a2'],
  }
  return mount(MessageTurn, {
    props: { turn, last: true, roleName: 'Smart Assistant', busy: false },
    global: { plugins: [createPinia(), makeI18n(locale)] },
  })
}

describe("an answer's footer", () => {
  it('holds the actions; the figures are in the byline', () => {
    const wrapper = mountTurn('en')
    const footer = wrapper.get('[data-testid="answer-footer"]')
    for (const id of ['answer-nav', 'copy-answer', 'regenerate', 'branch']) expect(footer.find(`[data-testid="${id}"]`).exists(), id).toBe(true)
    expect(footer.find('[data-testid="answer-usage"]').exists()).toBe(false)
    expect(footer.text()).not.toContain('4.6 s')
    const meta = wrapper.get('[data-testid="answer-meta"]')
    expect(meta.get('[data-testid="answer-role"]').text()).toBe('Smart Assistant')
    expect(meta.get('[data-testid="answer-usage"]').text()).toContain('in 33')
    expect(meta.text()).toContain('4.6 s')
  })

  it('says a stopped answer in the byline', () => {
    const wrapper = mountTurn('zh-CN', 'cancelled')
    expect(wrapper.get('[data-testid="answer-meta"] [data-testid="answer-stopped"]').text()).toBe('已停止')
    expect(wrapper.get('[data-testid="answer-footer"]').find('[data-testid="answer-stopped"]').exists()).toBe(false)
  })

  it.each([
    ['en', ['Copy answer', 'Regenerate', 'Branch into a new chat']],
    ['zh-CN', ['复制回答', '重新生成', '在新对话中继续']],
  ] as const)('names each action in %s, its words hidden only visually on a phone', (locale, names) => {
    const wrapper = mountTurn(locale)
    const labels = ['copy-answer', 'regenerate', 'branch'].map((id) => wrapper.get(`[data-testid="${id}"] .max-sm\\:sr-only`))
    expect(labels.map((label) => label.text())).toEqual(names)
    // The copy icon and the ↻ ↳ glyphs beside them are not read out.
    expect(wrapper.findAll('[data-testid="answer-footer"] [aria-hidden="true"]').length).toBe(3)
  })
})
