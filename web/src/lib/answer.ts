/**
 * What the page shows for each turn of the open conversation, from the stored rows on the path
 * (lib/tree.ts) and the live streams (lib/stream.ts). Pure: no store, no network.
 *
 * The stored row is the truth once it is final; before that the longer of the streamed and the
 * stored text wins, so a reader who opens a chat mid-answer starts from the row and continues from
 * the broadcasts without a jump back.
 */
import type { AnswerStream } from './stream'
import type { Branches } from './tree'
import { usageOf, type AnswerUsage } from './usage'
import { isFinal, type ChatMessage, type MessageStatus, type Source } from './types'

export interface AnswerView {
  id: string | null
  /** What the page shows, copies and exports: the words the request gave (`continued`), then the answer. */
  text: string
  /** The words a /v1 request ended with that the answer continues (its row holds the rest), else null. */
  continued: string | null
  status: MessageStatus
  final: boolean
  tokens: number
  responseTime: number | null
  errorCode: string | null
  errorMessage: string | null
  cancelRequested: boolean
  /** The model's thinking (never sent back to it), how long it took, and whether it is still going. */
  reasoning: string
  reasoningMs: number | null
  thinkingNow: boolean
  sources: Source[]
  finishReason: string | null
  /** The model that answered (the row's, once the worker has written it). */
  model: string | null
  /** The answer's token counts as stored (null until final, or when the provider gave none). */
  usage: AnswerUsage | null
}

export interface Turn {
  question: ChatMessage
  answer: AnswerView
  /** The question and its edits, oldest first (one id when never edited). */
  questionSiblings: string[]
  /** The answers to the question, oldest first (empty before the first one exists). */
  answerSiblings: string[]
}

function longer(a: string | null | undefined, b: string | null | undefined): string | null {
  return (a ?? '').length >= (b ?? '').length ? (a ?? null) : (b ?? null)
}

/** An answer without sources. One shared array: a fresh `[]` for each view (built again on every
 *  chunk) was a changed prop for every answer's MarkdownView, which rendered every answer of the
 *  conversation again on each chunk of the one streaming; `turnsOf` now keeps unchanged turns, but
 *  the streaming answer's own Markdown would still render on every chunk, past its pacing. */
const NO_SOURCES: Source[] = []

/** What the page shows for an answer: the final stored row, else the longer of stream and row. */
export function answerView(row: ChatMessage | undefined, stream: AnswerStream | undefined): AnswerView {
  const base = {
    id: row?.id ?? stream?.messageId ?? null,
    tokens: row?.tokens_used ?? 0,
    responseTime: row?.response_time ?? null,
    errorCode: row?.error_code ?? stream?.errorCode ?? null,
    errorMessage: row?.error_message ?? stream?.errorMessage ?? null,
    cancelRequested: row?.cancel_requested ?? false,
    reasoning: (row && isFinal(row.status) ? row.reasoning : longer(row?.reasoning, stream?.reasoning)) ?? '',
    reasoningMs: row?.reasoning_ms ?? stream?.reasoningMs ?? null,
    thinkingNow: !(row && isFinal(row.status)) && (stream?.thinking ?? false),
    sources: row?.sources ?? stream?.sources ?? NO_SOURCES,
    finishReason: row?.finish_reason ?? null,
    model: row?.model ?? null,
    usage: usageOf(row),
    continued: row?.continues || null,
  }
  // One Markdown piece: the words may open what the continuation closes (a code fence, a list).
  const words = base.continued ?? ''
  if (row && isFinal(row.status)) return { ...base, text: words + row.content, status: row.status, final: true }
  const streamed = stream?.text ?? ''
  const stored = row?.content ?? ''
  const text = words + (streamed.length >= stored.length ? streamed : stored)
  const status: MessageStatus =
    stream && stream.status !== 'pending' ? (isFinal(stream.status) ? 'streaming' : stream.status) : (row?.status ?? 'pending')
  return { ...base, text, status, final: false }
}

/**
 * One turn per question on the path, each with the answer that follows it there. `streams` is keyed
 * by answer id; `latest` names the newest answer heard of per question, for a question whose answer
 * row has not been read yet. A turn equal to one of `previous` (the last result) is that same object,
 * so on a chunk only the streaming turn's component renders again, not every turn of the chat.
 */
export function turnsOf(
  tree: Branches,
  streams: ReadonlyMap<string, AnswerStream>,
  latest: ReadonlyMap<string, string>,
  previous: readonly Turn[] = [],
): Turn[] {
  const { path, siblings } = tree
  const before = new Map(previous.map((turn) => [turn.question.id, turn]))
  const out: Turn[] = []
  path.forEach((question, i) => {
    if (question.message_type !== 'user') return
    const next = path[i + 1]
    const row = next && next.message_type === 'assistant' && next.reply_to === question.id ? next : undefined
    const streamId = row?.id ?? latest.get(question.id)
    const turn: Turn = {
      question,
      answer: answerView(row, streamId ? streams.get(streamId) : undefined),
      questionSiblings: siblings.get(question.id) ?? [question.id],
      answerSiblings: row ? (siblings.get(row.id) ?? [row.id]) : [],
    }
    const old = before.get(question.id)
    out.push(old && sameTurn(old, turn) ? old : turn)
  })
  return out
}

function sameTurn(a: Turn, b: Turn): boolean {
  return (
    a.question === b.question &&
    sameFields(a.questionSiblings, b.questionSiblings) &&
    sameFields(a.answerSiblings, b.answerSiblings) &&
    sameFields(a.answer, b.answer, 1)
  )
}

/** Equal fields (arrays: items), comparing objects `depth` levels down (an answer's `usage`). */
function sameFields(a: object, b: object, depth = 0): boolean {
  const x = a as Record<string, unknown>
  const y = b as Record<string, unknown>
  const keys = Object.keys(x)
  if (keys.length !== Object.keys(y).length) return false
  return keys.every((key) => {
    const u = x[key]
    const v = y[key]
    if (u === v) return true
    return depth > 0 && typeof u === 'object' && typeof v === 'object' && u !== null && v !== null && sameFields(u, v, depth - 1)
  })
}
