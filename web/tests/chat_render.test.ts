import { describe, expect, it, vi } from 'vitest'
import { computed, defineComponent, h, nextTick, shallowRef, triggerRef } from 'vue'
import { mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { makeI18n } from '@/i18n'
import MessageTurn from '@/components/MessageTurn.vue'
import { turnsOf, type Turn } from '@/lib/answer'
import { branches } from '@/lib/tree'
import { AnswerStream } from '@/lib/stream'
import type { ChatMessage } from '@/lib/types'

const rendered = vi.hoisted(() => [] as string[])
vi.mock('@/lib/markdown', async (original) => {
  const real = await original<typeof import('@/lib/markdown')>()
  return {
    ...real,
    renderMarkdown: (text: string, ...rest: unknown[]) => {
      rendered.push(text)
      return (real.renderMarkdown as (...args: unknown[]) => string)(text, ...rest)
    },
  }
})

// Element Plus's style sheets are for the browser; no message is shown here.
vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn(), success: vi.fn(), warning: vi.fn() } }))

function row(id: string, parent: string | null, type: 'user' | 'assistant', content: string): ChatMessage {
  return {
    id, session_id: 's', parent_id: parent, answer_no: type === 'assistant' ? 1 : null, message_type: type,
    content, role_id: null, status: 'completed', reply_to: type === 'assistant' ? parent : null, tokens_used: 3,
    response_time: 900, error_code: null, error_message: null, cancel_requested: false,
    created_at: '2026-01-01T00:00:00Z', web_search: false, model: null, finish_reason: 'stop', reasoning: null,
    reasoning_ms: null, sources: null, input_tokens: 10, output_tokens: 3,
  }
}

describe('a chunk of the streaming answer', () => {
  it('renders that answer again and no other answer of the conversation', async () => {
    // Ten answered turns, then a question being answered, as the chat store builds them.
    const rows: ChatMessage[] = []
    let parent: string | null = null
    for (let i = 0; i < 10; i++) {
      rows.push(row(`q${i}`, parent, 'user', `question ${i}`))
      rows.push(row(`a${i}`, `q${i}`, 'assistant', `**answer ${i}**`))
      parent = `a${i}`
    }
    rows.push(row('q10', parent, 'user', 'question 10'))
    const tree = branches(rows, 'q10')
    const stream = new AnswerStream()
    const streams = shallowRef(new Map([['a10', stream]]))
    const latest = new Map([['q10', 'a10']])
    const turns = computed<Turn[]>((previous) => turnsOf(tree, streams.value, latest, previous))
    const Chat = defineComponent({
      setup: () => () =>
        h(
          'div',
          turns.value.map((turn, index) =>
            h(MessageTurn, { key: turn.question.id, turn, last: index === turns.value.length - 1, roleName: 'r', busy: true }),
          ),
        ),
    })
    const wrapper = mount(Chat, { global: { plugins: [createPinia(), makeI18n('en')] } })
    expect(rendered.filter((text) => text.startsWith('**answer')).length).toBe(10)

    rendered.length = 0
    for (let seq = 1; seq <= 3; seq++) {
      stream.chunk({ message_id: 'a10', reply_to: 'q10', attempt: 1, seq, delta: `part${seq} ` })
      triggerRef(streams) // what the chat store does on each chunk
      await nextTick()
    }
    expect(rendered.filter((text) => text.startsWith('**answer'))).toEqual([])
    expect(rendered).toContain('part1 ') // the streaming answer's first chunk, rendered at once
    expect(wrapper.findAll('[data-testid="turn"]').length).toBe(11)
  })
})
