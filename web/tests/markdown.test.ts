import { describe, expect, it } from 'vitest'
import { renderMarkdown } from '@/lib/markdown'

function dom(html: string): HTMLElement {
  const div = document.createElement('div')
  div.innerHTML = html
  return div
}

describe('renderMarkdown', () => {
  it('renders Markdown', () => {
    const el = dom(renderMarkdown('# Title\n\n**bold** and `code`\n\n- one\n- two'))
    expect(el.querySelector('h1')?.textContent).toBe('Title')
    expect(el.querySelector('strong')?.textContent).toBe('bold')
    expect(el.querySelectorAll('li')).toHaveLength(2)
  })

  it('shows raw HTML as text, never as elements', () => {
    const html = renderMarkdown('<script>alert(1)</script><img src=x onerror="alert(2)"><b>x</b>')
    const el = dom(html)
    expect(el.querySelector('script')).toBeNull()
    expect(el.querySelector('img')).toBeNull()
    expect(el.querySelector('b')).toBeNull()
    expect(el.textContent).toContain('<script>alert(1)</script>')
  })

  it('drops javascript: and data: links', () => {
    const el = dom(renderMarkdown('[click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=) [ok](https://example.com)'))
    const hrefs = [...el.querySelectorAll('a')].map((a) => a.getAttribute('href'))
    expect(hrefs).toEqual(['https://example.com'])
    // markdown-it refuses such links; what is left is inert text
    for (const node of el.querySelectorAll('*')) {
      for (const attr of node.getAttributeNames()) expect(node.getAttribute(attr)).not.toMatch(/^\s*(javascript|data):/i)
    }
  })

  it('strips event handlers even from images Markdown allows', () => {
    const el = dom(renderMarkdown('![x](https://example.com/a.png "t\\" onerror=\\"alert(1)")'))
    for (const node of el.querySelectorAll('*')) {
      for (const attr of node.getAttributeNames()) expect(attr.startsWith('on')).toBe(false)
    }
  })

  it('opens links in a new tab without an opener', () => {
    const a = dom(renderMarkdown('see https://example.com')).querySelector('a')
    expect(a?.getAttribute('href')).toBe('https://example.com')
    expect(a?.getAttribute('target')).toBe('_blank')
    expect(a?.getAttribute('rel')).toContain('noopener')
  })

  it('highlights fenced code by language and escapes unknown languages', () => {
    const el = dom(renderMarkdown('```python\ndef f(x):\n    return "<b>"\n```'))
    const code = el.querySelector('pre code')
    expect(code?.className).toContain('language-python')
    expect(code?.querySelector('.hljs-keyword')?.textContent).toBe('def')
    expect(el.querySelector('b')).toBeNull()
    expect(code?.textContent).toContain('"<b>"')
    const plain = dom(renderMarkdown('```nosuchlang\n<i>x</i>\n```'))
    expect(plain.querySelector('i')).toBeNull()
    expect(plain.querySelector('pre code')?.textContent).toContain('<i>x</i>')
  })

  it('renders half-finished Markdown while streaming without breaking', () => {
    const el = dom(renderMarkdown('Here is code:\n```js\nconst a = '))
    expect(el.querySelector('pre code')?.textContent).toContain('const a =')
  })
})

describe('math and citations', () => {
  it('typesets inline and display math in both delimiter styles', () => {
    const el = dom(renderMarkdown('Euler: $e^{i\\pi}+1=0$ and \\(a^2\\)\n\n$$\\int_0^1 x\\,dx$$\n\n\\[\\frac{1}{2}\\]'))
    expect(el.querySelectorAll('.katex').length).toBe(4)
    expect(el.querySelectorAll('.katex-display').length).toBe(2)
    expect(el.querySelector('.katex [style]')).not.toBeNull() // KaTeX layout styles survive
  })

  it('shows a broken formula as its source instead of failing', () => {
    const el = dom(renderMarkdown('$\\frac{1}{$'))
    expect(el.textContent).toContain('\\frac{1}{')
  })

  it('keeps no style attribute outside formulas', () => {
    const el = dom(renderMarkdown('![x](https://example.com/a.png) text'))
    expect(el.querySelector('[style]')).toBeNull()
  })

  it('links [n] to the n-th source, but not inside code or without a source', () => {
    const sources = [
      { index: 1, title: 'One', url: 'https://one.example/' },
      { index: 2, title: 'Two', url: 'https://two.example/' },
    ]
    const el = dom(renderMarkdown('Fact [1]. Other [2][1]. Missing [7]. `code [1]`', sources))
    const cites = [...el.querySelectorAll('a.citation')].map((a) => [a.textContent, a.getAttribute('href')])
    expect(cites).toEqual([
      ['1', 'https://one.example/'],
      ['2', 'https://two.example/'],
      ['1', 'https://one.example/'],
    ])
    expect(el.textContent).toContain('[7]')
    expect(el.querySelector('code')?.textContent).toBe('code [1]')
  })

  it('links a citation only to a web page: one whose source is a script or data stays text', () => {
    const sources = [
      { index: 1, title: 'Script', url: 'javascript:alert(1)' },
      { index: 2, title: 'Data', url: 'data:text/html,hi' },
      { index: 3, title: 'Page', url: 'https://page.example/' },
    ]
    const el = dom(renderMarkdown('A [1]. B [2]. C [3].', sources))
    expect([...el.querySelectorAll('a')].map((a) => [a.textContent, a.getAttribute('href')])).toEqual([['3', 'https://page.example/']])
    expect(el.textContent?.trim()).toBe('A [1]. B [2]. C 3.')
  })

  it('leaves [n] as text when there are no sources', () => {
    const el = dom(renderMarkdown('Fact [1].'))
    expect(el.querySelector('a')).toBeNull()
  })
})
