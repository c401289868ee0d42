/** A conversation downloaded as Markdown: what the page shows, in order, with what the page folds. */
import { describe, expect, it } from 'vitest'
import MarkdownIt from 'markdown-it'
import { chatFileName, chatMarkdown, literal, type ExportLabels } from '@/lib/exportChat'
import type { AnswerView, Turn } from '@/lib/answer'
import type { ChatMessage } from '@/lib/types'

const LABELS: ExportLabels = { you: 'You', thinking: 'Thinking', sources: 'Sources', stopped: 'Stopped', failed: 'Failed', exported: 'Exported', continued: 'Continues the words given in the request', failure: (a) => a.errorMessage }

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

  it('links only sources that are web pages', () => {
    const sources = [
      { index: 1, title: 'Script', url: 'javascript:alert(1)' },
      { index: 2, title: '', url: 'data:text/html,hi' },
      { index: 3, title: 'Page', url: 'https://page.example/' },
    ]
    const file = chatMarkdown('t', [turn({ content: 'q' }, { text: 'A [1] [2] [3]', sources })], () => 'AI', LABELS, when)
    expect(file).toContain('Sources:\n\n1. Script\n2. data:text/html,hi\n3. [Page](https://page.example/)\n')
    expect(file).not.toContain('javascript:')
    expect(file).not.toContain('](data:')
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

describe('chatMarkdown escaping', () => {
  const when = new Date('2026-12-04T10:00:00Z')

  it('writes a question, the thinking and names as typed, never as Markdown or HTML', () => {
    const question = '# not a heading\n- not a list\n2. not a numbered one\n<b>bold?</b> *stars* _under_ [a](https://x.test) `tick` a|b &amp;\n\nnew paragraph'
    const md = chatMarkdown(
      '*Draft* <i>1</i>',
      [turn(
        { content: question, attachments: [{ bucket: 'attachments', path: 'u/1/a.png', name: '*a*_[1].png', mime_type: 'image/png', size: 3 }] },
        { text: 'An **answer** stays Markdown.', reasoning: 'Then </details> <script>x()</script>\nsecond line' },
      )],
      () => 'AI',
      LABELS,
      when,
    )
    expect(md).toContain('# \\*Draft\\* \\<i\\>1\\</i\\>\n')
    expect(md).toContain(
      [
        '\\# not a heading\\',
        '\\- not a list\\',
        '2\\. not a numbered one\\',
        '\\<b\\>bold?\\</b\\> \\*stars\\* \\_under\\_ \\[a\\](https://x.test) \\`tick\\` a\\|b \\&amp;',
        '',
        'new paragraph',
      ].join('\n'),
    )
    expect(md).toContain('📎 \\*a\\*\\_\\[1\\].png')
    expect(md).toContain('<details><summary>Thinking</summary>\n\nThen \\</details\\> \\<script\\>x()\\</script\\>\\\nsecond line\n\n</details>')
    expect(md).toContain('An **answer** stays Markdown.')
    expect(md.match(/<\/details>/g)).toHaveLength(1)
  })

  it('renders back to the text as typed, line breaks and all', () => {
    const typed = '# 标题\n> quoted?\n1) one\n+ plus\n===\n<img src=x onerror=alert(1)> **not bold** \\ back\n    four spaces'
    const page = document.createElement('div')
    page.innerHTML = new MarkdownIt().render(literal(typed))
    expect(page.querySelectorAll('h1, h2, blockquote, ol, ul, img, strong, code, pre')).toHaveLength(0)
    expect(page.querySelectorAll('br')).toHaveLength(6)
    expect(page.textContent?.replace(/\s+/g, ' ').trim()).toBe(typed.replace(/\s+/g, ' '))
  })

  it('links only http(s) sources, with addresses nothing cuts short', () => {
    const sources = [
      { index: 1, title: 'A [bracketed] title', url: 'https://en.wikipedia.org/wiki/Tea_(drink)' },
      { index: 2, title: 'Spaced', url: 'https://example.com/a b' },
      { index: 3, title: 'Sneaky', url: 'javascript:alert(1)' },
      { index: 4, title: '', url: 'https://example.com/plain' },
    ]
    const md = chatMarkdown('t', [turn({ content: 'q' }, { text: 'See [1].', sources })], () => 'AI', LABELS, when)
    expect(md).toContain(
      [
        '1. [A \\[bracketed\\] title](<https://en.wikipedia.org/wiki/Tea_(drink)>)',
        '2. [Spaced](https://example.com/a%20b)',
        '3. Sneaky',
        '4. [https://example.com/plain](https://example.com/plain)',
      ].join('\n'),
    )
    expect(md).not.toContain('javascript:')
  })
})
