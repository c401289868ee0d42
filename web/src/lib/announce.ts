/**
 * What the chat tells a screen reader about the last answer, in its live region: that an answer
 * is being written (a question sent, an answer asked for again) and how it ended. Only news: a chat
 * opened on a finished answer, or a flip between finished answers, says nothing.
 */
import type { MessageStatus } from './types'

/** The last turn as the live region follows it. */
export interface LastAnswer {
  question: string
  answer: string | null
  status: MessageStatus
  final: boolean
}

export type Announcement = 'answering' | 'answered' | 'stopped' | 'failed'

const ENDINGS: Partial<Record<MessageStatus, Announcement>> = { completed: 'answered', cancelled: 'stopped', error: 'failed' }

/** What changed from `before` to `now` that is worth saying, or null. */
export function announcement(before: LastAnswer | null, now: LastAnswer | null): Announcement | null {
  if (now === null) return null
  if (!now.final) return before === null || before.final || before.question !== now.question ? 'answering' : null
  if (before === null || before.final || before.question !== now.question) return null
  return ENDINGS[now.status] ?? 'answered'
}
