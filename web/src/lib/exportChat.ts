/**
 * A conversation as a Markdown file, for download from the chat header: the path the page shows
 * (lib/tree.ts, so what the model saw), each question with its attachments' names, each answer
 * under its persona with its thinking folded in <details>, its web sources as numbered links and
 * a note when it was stopped or failed. Pure: the caller gives the labels in the UI's language.
 */
import type { Turn } from './answer'

export interface ExportLabels {
  you: string
  thinking: string
  sources: string
  stopped: string
  failed: string
  exported: string
  /** Why a failed answer failed, in the UI's language (lib/answerFailure.ts). */
  failure: (answer: Turn['answer']) => string | null
}

/** The file: a title, when it was exported, then the turns, oldest first. */
export function chatMarkdown(title: string, turns: Turn[], speaker: (turn: Turn) => string, labels: ExportLabels, now: Date): string {
  const out = [`# ${oneLine(title)}`, '', `> ${labels.exported} ${now.toISOString()}`]
  for (const turn of turns) {
    out.push('', `## ${labels.you}`, '', turn.question.content.trim())
    const files = turn.question.attachments ?? []
    if (files.length) out.push('', files.map((file) => `📎 ${file.name}`).join('  \n'))
    const answer = turn.answer
    out.push('', `## ${oneLine(speaker(turn))}`)
    if (answer.reasoning.trim()) {
      out.push('', `<details><summary>${labels.thinking}</summary>`, '', answer.reasoning.trim(), '', '</details>')
    }
    if (answer.text.trim()) out.push('', answer.text.trim())
    if (answer.status === 'cancelled') out.push('', `*${labels.stopped}*`)
    if (answer.status === 'error') {
      const why = labels.failure(answer)
      out.push('', `*${labels.failed}${why ? `: ${oneLine(why)}` : ''}*`)
    }
    if (answer.sources.length) {
      out.push('', `${labels.sources}:`, '', ...answer.sources.map((s) => `${s.index}. [${oneLine(s.title) || s.url}](${s.url})`))
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
