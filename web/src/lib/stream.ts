/**
 * Reassembles one answer from the worker's broadcasts (worker/broadcast.py): `reasoning` (the
 * model's thinking, first) and `chunk` (the answer) {message_id, reply_to, attempt, seq, delta}
 * with one `seq` counting from 1 per attempt across both, then `done` {..., seq, status, length,
 * reasoning_ms, sources, ...} where `seq` is the last chunk's number.
 *
 * Realtime delivery is at-most-once and may reorder, so chunks are kept by `seq` and only the
 * gap-free prefix is shown; a later `attempt` (the answer was retaken by another worker) replaces
 * everything before it. The stored row is the truth: `reconcile` with it settles the text
 * whenever the stream has a gap or is over.
 *
 * Chunks that carry `offset` (where the delta starts in its kind's text, in characters as the
 * row counts them) are placed by offset instead, which is what makes resume work: a page that
 * opens mid-answer starts from the stored row's text, keeps of each chunk only what lies beyond
 * it, holds chunks that start further on until a fresher row or earlier chunks close the gap,
 * and so shows every character once. The row's `reasoning` (written as it streams) is the thinking
 * so far in the same way.
 */
import type { MessageStatus, Source } from './types'

export interface ChunkEvent {
  message_id: string
  reply_to: string
  attempt: number
  seq: number
  offset?: number
  delta: string
}

/** Characters as Python and PostgreSQL count them (code points, not UTF-16 units). */
function chars(text: string): number {
  let n = 0
  for (const _ of text) n += 1
  return n
}

function dropChars(text: string, count: number): string {
  if (count <= 0) return text
  return Array.from(text).slice(count).join('')
}

export interface DoneEvent {
  message_id: string
  reply_to: string
  attempt: number
  seq: number
  status: MessageStatus
  length?: number
  finish_reason?: string | null
  error_code?: string | null
  error_message?: string | null
  reasoning_ms?: number | null
  sources?: Source[] | null
}

export interface StoredAnswer {
  id: string
  content: string
  status: MessageStatus
  /** The claim the row's text belongs to (chunks of that `attempt` continue it). */
  attempts?: number
  reasoning?: string | null
}

export type ChunkKind = 'chunk' | 'reasoning'

export class AnswerStream {
  messageId: string | null = null
  attempt = 0
  private chunks = new Map<number, [ChunkKind, string]>()
  private prefixSeq = 0
  private prefix = ''
  /** The thinking shown so far (gap-free, like the text). */
  reasoning = ''
  reasoningMs: number | null = null
  sources: Source[] | null = null
  /** The last seq the worker says it sent, once `done` arrived. */
  finalSeq: number | null = null
  status: MessageStatus = 'pending'
  errorCode: string | null = null
  errorMessage: string | null = null
  /** Text from the stored row, when it is ahead of (or settles) the stream. */
  private stored: string | null = null
  settled = false
  /** Offset mode: characters of the text and reasoning shown, and chunks waiting for a gap to close. */
  private lengths: Record<ChunkKind, number> = { chunk: 0, reasoning: 0 }
  private waiting: Array<[ChunkKind, number, string]> = []
  private finalLength: number | null = null

  chunk(event: ChunkEvent, kind: ChunkKind = 'chunk'): boolean {
    if (this.settled || !this.accept(event.attempt, event.message_id)) return false
    if (typeof event.offset === 'number') {
      this.waiting.push([kind, event.offset, event.delta])
      this.drain()
      if (this.status === 'pending') this.status = 'streaming'
      return true
    }
    if (event.seq <= this.prefixSeq || this.chunks.has(event.seq)) return false // duplicate
    this.chunks.set(event.seq, [kind, event.delta])
    while (this.chunks.has(this.prefixSeq + 1)) {
      this.prefixSeq += 1
      const [what, delta] = this.chunks.get(this.prefixSeq) ?? ['chunk', '']
      if (what === 'reasoning') this.reasoning += delta
      else this.prefix += delta
      this.chunks.delete(this.prefixSeq)
    }
    if (this.status === 'pending') this.status = 'streaming'
    return true
  }

  /** Place waiting offset chunks that now touch or overlap what is shown. */
  private drain(): void {
    for (let progressed = true; progressed; ) {
      progressed = false
      this.waiting = this.waiting.filter(([kind, offset, delta]) => {
        const have = this.lengths[kind]
        if (offset > have) return true
        const fresh = dropChars(delta, have - offset)
        if (fresh) {
          if (kind === 'reasoning') this.reasoning += fresh
          else this.prefix += fresh
          this.lengths[kind] = have + chars(fresh)
          progressed = true
        }
        return false
      })
    }
  }

  done(event: DoneEvent): boolean {
    if (this.settled || !this.accept(event.attempt, event.message_id)) return false
    this.finalLength = typeof event.length === 'number' ? event.length : null
    this.finalSeq = event.seq
    this.status = event.status
    this.errorCode = event.error_code ?? null
    this.errorMessage = event.error_message ?? null
    this.reasoningMs = event.reasoning_ms ?? null
    this.sources = event.sources ?? null
    return true
  }

  /** Thinking is under way: reasoning has arrived and the answer text has not. */
  get thinking(): boolean {
    return this.reasoning.length > 0 && this.prefix.length === 0 && !this.settled && this.finalSeq === null
  }

  /** Settle from the stored row: a final row is the whole answer; a live one only extends the text. */
  reconcile(row: StoredAnswer): void {
    if (this.settled) return
    if (row.attempts !== undefined && row.attempts > this.attempt) this.accept(row.attempts, row.id)
    this.messageId = row.id
    if (row.status === 'completed' || row.status === 'error' || row.status === 'cancelled') {
      this.stored = row.content
      this.status = row.status
      this.settled = true
      return
    }
    const bySeq = this.prefixSeq > 0 || this.chunks.size > 0 // chunks without offsets: the row only shows through `stored`
    if (!bySeq && chars(row.content) > this.lengths.chunk && chars(row.content) >= chars(this.prefix)) {
      // A fresher row: it is the text so far; chunks place themselves after it by offset.
      this.prefix = row.content
      this.lengths.chunk = chars(row.content)
      this.drain()
    }
    const thought = row.reasoning ?? ''
    if (!bySeq && chars(thought) > this.lengths.reasoning && chars(thought) >= chars(this.reasoning)) {
      // The row holds the thinking so far too (written as it streams): reasoning chunks follow it by offset.
      this.reasoning = thought
      this.lengths.reasoning = chars(thought)
      this.drain()
    }
    if (row.content.length > this.prefix.length) this.stored = row.content
    if (row.status === 'streaming' && this.status === 'pending') this.status = 'streaming'
  }

  /** Chunks are missing between what is shown and what has arrived or was announced. */
  get hasGap(): boolean {
    if (this.waiting.length > 0) return true
    if (this.finalLength !== null) return this.lengths.chunk < this.finalLength
    if (this.chunks.size > 0) return true
    return this.finalSeq !== null && this.prefixSeq < this.finalSeq
  }

  /** Done was announced but the text cannot be trusted to be whole without the stored row. */
  get needsRow(): boolean {
    return !this.settled && (this.finalSeq !== null || this.hasGap)
  }

  get text(): string {
    if (this.settled) return this.stored ?? this.prefix
    return this.stored !== null && this.stored.length > this.prefix.length ? this.stored : this.prefix
  }

  get finished(): boolean {
    return this.settled || (this.finalSeq !== null && !this.hasGap)
  }

  private accept(attempt: number, messageId: string): boolean {
    if (attempt < this.attempt) return false
    if (attempt > this.attempt) {
      this.attempt = attempt
      this.chunks.clear()
      this.prefixSeq = 0
      this.prefix = ''
      this.reasoning = ''
      this.stored = null
      this.finalSeq = null
      this.status = 'pending'
      this.lengths = { chunk: 0, reasoning: 0 }
      this.waiting = []
      this.finalLength = null
    }
    this.messageId = messageId
    return true
  }
}
