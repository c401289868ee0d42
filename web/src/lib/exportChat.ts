/**
 * A conversation as a Markdown file, for download from the chat header: the path the page shows
 * (lib/tree.ts, so what the model saw), each question with its attachments' names, each answer
 * under its persona with its thinking folded in <details>, its web sources as numbered links and
 * a note when it was stopped or failed. Pure: the caller gives the labels in the UI's language.
 *
 * The page shows a question, the thinking, a title and a file's name as plain text, and so does the
 * file: each is escaped (`literal`) so that a `#`, `<b>`, `*x*`, `[a](b)` or `</details>` in it reads
 * as typed, its line breaks kept, instead of becoming a heading, markup or a link, or ending the
 * folded thinking early. An answer is Markdown and stays as written. A source is linked only when
 * its address is http(s), its spaces encoded and its parentheses in <…>, so nothing cuts it short.
 * An answer that continued the words a /v1 request ended with is written whole (the words, then
 * the continuation its row holds) under a quoted note that says so, as the page shows it.
 */
import type { Turn } from './answer'
import { webLink } from './links'
import type { Source } from './types'

export interface ExportLabels {
  you: string
  thinking: string
  sources: string
  stopped: string
  failed: string
  exported: string
  /** The note above an answer that continues the words its request gave. */
  continued: string
  /** Why a failed answer failed, in the UI's language (lib/answerFailure.ts). */
  failure: (answer: Turn['answer']) => string | null
}

/** The file: a title, when it was exported, then the turns, oldest first. */
export function chatMarkdown(title: string, turns: Turn[], speaker: (turn: Turn) => string, labels: ExportLabels, now: Date): string {
  const out = [`# ${literal(oneLine(title))}`, '', `> ${labels.exported} ${now.toISOString()}`]
  for (const turn of turns) {
    out.push('', `## ${labels.you}`, '', literal(turn.question.content.trim()))
    const files = turn.question.attachments ?? []
    if (files.length) out.push('', files.map((file) => `📎 ${literal(oneLine(file.name))}`).join('\\\n'))
    const answer = turn.answer
    out.push('', `## ${literal(oneLine(speaker(turn)))}`)
    if (answer.reasoning.trim()) {
      out.push('', `<details><summary>${labels.thinking}</summary>`, '', literal(answer.reasoning.trim()), '', '</details>')
    }
    if (answer.continued) out.push('', `> ${labels.continued}`)
    if (answer.text.trim()) out.push('', answer.text.trim())
    if (answer.status === 'cancelled') out.push('', `*${labels.stopped}*`)
    if (answer.status === 'error') {
      const why = labels.failure(answer)
      out.push('', `*${labels.failed}${why ? `: ${literal(oneLine(why))}` : ''}*`)
    }
    if (answer.sources.length) {
      out.push('', `${labels.sources}:`, '', ...answer.sources.map(sourceLine))
    }
    out.push('', '---')
  }
  return `${out.join('\n')}\n`
}


/** A file name from the title: no path or shell-hostile characters, at most 80 of them. */
export function chatFileName(title: string): string {
  const name = oneLine(title).replace(/[\\/:*?"<>|]+/g, '_').slice(0, 80).trim()
  return `${name || 'chat'}.md`
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}

/** Plain text as Markdown that shows it as typed: punctuation Markdown or HTML would read is
 * backslash-escaped, a line's leading marker (`#`, `-`, `+`, `=`, `1.`) too, and each line break is a
 * hard break (`\` at the line's end); blank lines still part paragraphs. */
export function literal(text: string): string {
  const lines = text.split(/\r\n|\r|\n/).map((line) =>
    line
      .replace(/[\\`*_[\]<>&~|]/g, '\\$&')
      .replace(/^(\s*)([-+=#])/, '$1\\$2')
      .replace(/^(\s*\d+)([.)])/, '$1\\$2'),
  )
  return lines.map((line, i) => (line.trim() && lines[i + 1]?.trim() ? `${line}\\` : line)).join('\n')
}

/** `n. [title](url)` for an http(s) source (the address in <…> when it has parentheses); any other
 * address is shown, never linked. */
function sourceLine(source: Source): string {
  const title = literal(oneLine(source.title))
  const href = webLink(source.url)
  if (!href) return `${source.index}. ${title || literal(oneLine(source.url))}`
  const url = href.replace(/[\s<>]/g, encodeURIComponent)
  return `${source.index}. [${title || literal(url)}](${/[()]/.test(url) ? `<${url}>` : url})`
}
