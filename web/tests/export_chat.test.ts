/** A conversation downloaded as Markdown: what the page shows, in order, with what the page folds. */
import { describe, expect, it } from 'vitest'
import { chatFileName, chatMarkdown, type ExportLabels } from '@/lib/exportChat'
import type { AnswerView, Turn } from '@/lib/answer'
import type { ChatMessage } from '@/lib/types'

const LABELS: ExportLabels = { you: 'You', thinking: 'Thinking', sources: 'Sources', stopped: 'Stopped', failed: 'Failed', exported: 'Exported', failure: (a) => a.errorMessage }

function turn(question: Partial<ChatMessage>, answer: Partial<AnswerView>): Turn {
  return {
    question: { id: 'q', content: '', role_id: 'assistant', ...question } as ChatMessage,
    answer: { id: 'a', text: '', status: 'completed', final: true, reasoning: '', sources: [], errorMessage: null, ...answer } as AnswerView,
    questionSiblings: ['q'],
    answerSiblings: ['a'],
  }
}

describe('chatMarkdown', () => {
  const when = new Date('2026-12-04T10:00:00Z')

  it('writes the turns in order under their speakers, with thinking folded and sources linked', () => {
    const turns = [
      turn(
        { content: 'Why is the sky blue?', attachments: [{ bucket: 'attachments', path: 'u/1/sky.png', name: 'sky.png', mime_type: 'image/png', size: 3 }] },
        { text: 'Rayleigh **scattering**.', reasoning: 'Short light scatters more.', sources: [{ index: 1, title: 'Rayleigh\nscattering', url: 'https://example.com/r' }] },
      ),
      turn({ content: 'And at sunset?' }, { text: 'Redder.' }),
    ]
    const speaker = (t: Turn) => (t.question.content.startsWith('Why') ? 'Tech Expert' : 'Assistant')
    expect(chatMarkdown('Sky\ncolours', turns, speaker, LABELS, when)).toBe(
      [
        '# Sky colours',
        '',
        '> Exported 2026-12-04T10:00:00.000Z',
        '',
        '## You',
        '',
        'Why is the sky blue?',
        '',
        '📎 sky.png',
        '',
        '## Tech Expert',
        '',
        '<details><summary>Thinking</summary>',
        '',
        'Short light scatters more.',
        '',
        '</details>',
        '',
        'Rayleigh **scattering**.',
        '',
        'Sources:',
        '',
        '1. [Rayleigh scattering](https://example.com/r)',
        '',
        '---',
        '',
        '## You',
        '',
        'And at sunset?',
        '',
        '## Assistant',
        '',
        'Redder.',
        '',
        '---',
        '',
      ].join('\n'),
    )
  })

  it('says when an answer was stopped or failed', () => {
    const stopped = chatMarkdown('t', [turn({ content: 'q' }, { text: 'Half an ans', status: 'cancelled' })], () => 'AI', LABELS, when)
    expect(stopped).toContain('Half an ans\n\n*Stopped*')
    const failed = chatMarkdown('t', [turn({ content: 'q' }, { status: 'error', errorMessage: 'quota\nused up' })], () => 'AI', LABELS, when)
    expect(failed).toContain('## AI\n\n*Failed: quota used up*')
  })
})

describe('chatFileName', () => {
  it('keeps a readable title and drops what a file system refuses', () => {
    expect(chatFileName('天空为什么是蓝色的？')).toBe('天空为什么是蓝色的？.md')
    expect(chatFileName('a/b\\c: "d" <e> | f?*')).toBe('a_b_c_ _d_ _e_ _ f_.md')
    expect(chatFileName('  \n ')).toBe('chat.md')
    expect(chatFileName('x'.repeat(200))).toBe(`${'x'.repeat(80)}.md`)
  })
})
