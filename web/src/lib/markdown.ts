/**
 * Model output as safe HTML. markdown-it runs with raw HTML disabled, so `<script>` in an answer
 * is text; DOMPurify then cleans the result anyway (defence in depth against a renderer bug or a
 * `javascript:` link), and every link opens in a new tab without an opener.
 *
 * Math: `$…$`, `$$…$$`, `\(…\)` and `\[…\]` (Qwen writes both styles) are typeset by KaTeX through
 * @mdit/plugin-katex; an invalid formula shows as its source in red, never as an error. KaTeX
 * positions glyphs with inline styles, so `style` survives sanitizing inside `.katex` only.
 * Citations: with web search sources, `[n]` in the text (not in code) becomes a link to source n.
 */
import MarkdownIt from 'markdown-it'
import type StateCore from 'markdown-it/lib/rules_core/state_core.mjs'
import DOMPurify from 'dompurify'
import { katex } from '@mdit/plugin-katex'
import { webLink } from './links'
import type { Source } from './types'
import hljs from 'highlight.js/lib/core'
import bash from 'highlight.js/lib/languages/bash'
import cpp from 'highlight.js/lib/languages/cpp'
import css from 'highlight.js/lib/languages/css'
import go from 'highlight.js/lib/languages/go'
import java from 'highlight.js/lib/languages/java'
import javascript from 'highlight.js/lib/languages/javascript'
import json from 'highlight.js/lib/languages/json'
import python from 'highlight.js/lib/languages/python'
import rust from 'highlight.js/lib/languages/rust'
import sql from 'highlight.js/lib/languages/sql'
import typescript from 'highlight.js/lib/languages/typescript'
import xml from 'highlight.js/lib/languages/xml'
import yaml from 'highlight.js/lib/languages/yaml'

const languages = { bash, cpp, css, go, java, javascript, json, python, rust, sql, typescript, xml, yaml }
for (const [name, language] of Object.entries(languages)) hljs.registerLanguage(name, language)
hljs.registerAliases(['sh', 'shell', 'zsh'], { languageName: 'bash' })
hljs.registerAliases(['js', 'vue'], { languageName: 'javascript' })
hljs.registerAliases(['ts'], { languageName: 'typescript' })
hljs.registerAliases(['py'], { languageName: 'python' })
hljs.registerAliases(['html'], { languageName: 'xml' })
hljs.registerAliases(['c', 'c++'], { languageName: 'cpp' })
hljs.registerAliases(['yml'], { languageName: 'yaml' })

const md: MarkdownIt = new MarkdownIt({
  html: false,
  linkify: true,
  breaks: true,
  highlight(code: string, lang: string): string {
    const name = lang.trim().toLowerCase()
    const body = hljs.getLanguage(name)
      ? hljs.highlight(code, { language: name, ignoreIllegals: true }).value
      : md.utils.escapeHtml(code)
    const label = md.utils.escapeHtml(name || 'text')
    return `<pre class="code-block"><div class="code-head"><span>${label}</span><button type="button" class="code-copy" data-copy>copy</button></div><code class="hljs language-${label}">${body}</code></pre>`
  },
})

md.use(katex, { delimiters: 'all', throwOnError: false, strict: 'ignore' })

interface Env {
  sources?: Source[]
}

const CITATION = /\[(\d{1,3})\](?!\()/g

/** Split text tokens around `[n]` into links to the n-th source (only numbers that have one, a web page). */
function citations(state: StateCore): void {
  const sources = (state.env as Env).sources
  if (!sources || sources.length === 0) return
  const byIndex = new Map(sources.map((s) => [s.index, s]))
  for (const block of state.tokens) {
    if (block.type !== 'inline' || !block.children) continue
    const out = []
    for (const token of block.children) {
      if (token.type !== 'text' || !CITATION.test(token.content)) {
        out.push(token)
        continue
      }
      CITATION.lastIndex = 0
      let last = 0
      for (const match of token.content.matchAll(CITATION)) {
        const source = byIndex.get(Number(match[1]))
        const href = source ? webLink(source.url) : null
        if (!source || !href) continue
        const at = match.index ?? 0
        if (at > last) out.push(Object.assign(new state.Token('text', '', 0), { content: token.content.slice(last, at) }))
        const open = new state.Token('link_open', 'a', 1)
        open.attrs = [['href', href], ['class', 'citation'], ['title', source.title], ['data-cite', String(source.index)]]
        out.push(open, Object.assign(new state.Token('text', '', 0), { content: String(source.index) }), new state.Token('link_close', 'a', -1))
        last = at + match[0].length
      }
      if (last < token.content.length) out.push(Object.assign(new state.Token('text', '', 0), { content: token.content.slice(last) }))
    }
    block.children = out
  }
}
md.core.ruler.push('citations', citations)

const defaultLinkOpen = md.renderer.rules.link_open
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const token = tokens[idx]
  if (token) {
    token.attrSet('target', '_blank')
    token.attrSet('rel', 'noopener noreferrer nofollow')
  }
  return defaultLinkOpen ? defaultLinkOpen(tokens, idx, options, env, self) : self.renderToken(tokens, idx, options)
}

let hooked = false

function purify(html: string): string {
  if (!hooked) {
    // DOMPurify drops `target` unless told; keep it only together with a safe `rel`.
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A' && node.getAttribute('target') === '_blank') {
        node.setAttribute('rel', 'noopener noreferrer nofollow')
      }
    })
    // KaTeX's layout needs its inline styles; nothing else keeps a style attribute.
    DOMPurify.addHook('uponSanitizeAttribute', (node, data) => {
      if (data.attrName === 'style' && !(node as Element).closest?.('.katex')) data.keepAttr = false
    })
    hooked = true
  }
  return DOMPurify.sanitize(html, {
    ADD_ATTR: ['target'],
    FORBID_TAGS: ['style', 'form', 'input', 'iframe', 'object', 'embed'],
  })
}

export function renderMarkdown(text: string, sources?: Source[] | null): string {
  const env: Env = { sources: sources ?? undefined }
  return purify(md.render(text, env))
}
