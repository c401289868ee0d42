/**
 * What a screen reader hears of the last answer (lib/announce.ts, ChatConversation's live region):
 * that it is being written once a question is sent or an answer asked for again, and how it ended
 * (done, stopped, failed). Nothing when a chat is opened on a finished answer, or when the reader
 * flips between finished answers.
 */
import { describe, expect, it } from 'vitest'
import { announcement, type LastAnswer } from '@/lib/announce'

const at = (question: string, answer: string | null, status: LastAnswer['status'], final = status !== 'pending' && status !== 'streaming'): LastAnswer => ({ question, answer, status, final })

describe('announcement', () => {
  it('says an answer is being written, then how it ended', () => {
    expect(announcement(null, at('q1', null, 'pending'))).toBe('answering')
    expect(announcement(at('q1', null, 'pending'), at('q1', 'a1', 'streaming'))).toBeNull()
    expect(announcement(at('q1', 'a1', 'streaming'), at('q1', 'a1', 'completed'))).toBe('answered')
    expect(announcement(at('q1', 'a1', 'streaming'), at('q1', 'a1', 'cancelled'))).toBe('stopped')
    expect(announcement(at('q1', 'a1', 'streaming'), at('q1', 'a1', 'error'))).toBe('failed')
  })

  it('says so again for the next question and for an answer asked for again', () => {
    expect(announcement(at('q1', 'a1', 'completed'), at('q2', null, 'pending'))).toBe('answering')
    expect(announcement(at('q1', 'a1', 'completed'), at('q1', 'a2', 'pending'))).toBe('answering')
  })

  it('stays quiet on what is not news', () => {
    expect(announcement(null, at('q1', 'a1', 'completed'))).toBeNull() // a chat opened
    expect(announcement(at('q9', 'a9', 'completed'), at('q1', 'a1', 'completed'))).toBeNull() // another chat opened
    expect(announcement(at('q1', 'a2', 'completed'), at('q1', 'a1', 'completed'))).toBeNull() // ‹ flipped
    expect(announcement(at('q1', 'a1', 'completed'), null)).toBeNull() // an empty chat
  })
})
