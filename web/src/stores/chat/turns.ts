/**
 * What a reader does to a turn of the conversation tree (lib/tree.ts): stop its answer, ask for
 * another answer, edit the question, flip between siblings, branch into a new chat, delete it.
 *
 * Editing a question adds a sibling (the old branch stays); regenerating asks for the next numbered
 * answer (`request_answer`, so a second click or a retry gets the same answer, not a third);
 * branching names the new chat, so a retry after a lost answer gets the same copy; flipping
 * moves the session's stored leaf, so the choice survives a reload; a session row read before the
 * move was stored does not move it back (sessions.ts). Stopping is `chat_stop`: it asks the answer
 * in flight to stop, or ends a question no worker has claimed yet before any answers it.
 */
import { repeatWhileInDoubt } from '@/lib/storeOnce'
import { supabase } from '@/lib/supabase'
import type { ChatMessage } from '@/lib/types'
import type { ChatState } from './state'
import type { SessionList } from './sessions'
import type { ConversationRows } from './messages'
import type { SessionChannel } from './channel'
import type { Asking } from './questions'

/** The number of the next answer to a question: one past the highest so far. */
export function nextAnswerNo(messages: ChatMessage[], questionId: string): number {
  const numbers = messages.filter((m) => m.reply_to === questionId).map((m) => m.answer_no ?? 1)
  return Math.max(0, ...numbers) + 1
}

export function turnActions(state: ChatState, list: SessionList, rows: ConversationRows, channel: SessionChannel, asking: Asking) {
  const { messages, currentId, sending } = state

  /**
   * Stop the question's answer: the one in flight is asked to stop, and a question no worker has
   * claimed yet gets its answer already cancelled (`chat_stop`, the same stop as every door's).
   */
  async function stop(questionId: string): Promise<void> {
    const turn = state.turns.value.find((t) => t.question.id === questionId)
    if (!turn || turn.answer.final) return
    const { error } = await supabase().rpc('chat_stop', { message: questionId })
    if (error) throw error
    const row = turn.answer.id ? messages.value.find((m) => m.id === turn.answer.id) : undefined
    if (row) rows.upsert({ ...row, cancel_requested: true })
    else await rows.fetchAnswers([questionId]) // the answer the stop made, before its event arrives
  }

  /** Another answer to the question, kept beside the others. */
  async function regenerate(questionId: string): Promise<void> {
    const id = currentId.value
    if (!id) return
    const answerNo = nextAnswerNo(messages.value, questionId)
    sending.value = true
    try {
      await channel.waitJoined()
      // Repeated with the same number when the response is lost: the same answer, never a third.
      const { data, error } = await repeatWhileInDoubt(() =>
        supabase().rpc('request_answer', { question: questionId, answer_no: answerNo }),
      )
      if (error) throw error
      const row = data as ChatMessage
      rows.upsert(row)
      // request_answer has already moved the stored leaf to the new answer.
      list.setLeaf(id, row.id)
      list.leafStored(id, row.id)
    } finally {
      sending.value = false
    }
  }

  /** Send an edited question beside the original (same parent); the old branch stays. */
  async function edit(questionId: string, content: string): Promise<void> {
    const question = messages.value.find((m) => m.id === questionId)
    const id = currentId.value
    const text = content.trim()
    if (!question || !id || !text) return
    sending.value = true
    try {
      await channel.waitJoined()
      await asking.insertQuestion(id, {
        content: text,
        roleSlug: question.role_id,
        webSearch: question.web_search,
        attachments: question.attachments ?? [],
        parentId: question.parent_id,
        editedFrom: question.id,
      })
    } finally {
      sending.value = false
    }
  }

  /** Each session's leaf write in flight: the next one is sent once it has been answered. */
  const leafWrites = new Map<string, Promise<void>>()

  /** Show another branch: the path through `messageId` (a sibling picked with ‹ n / m ›), remembered.
   * Quick flips are stored in the order they were made: sent at once, a later flip's write could
   * reach the server first and the earlier one's land last, leaving the server on a branch the
   * page no longer shows (and a reload showing it). */
  async function flip(messageId: string): Promise<void> {
    const id = currentId.value
    if (!id) return
    list.setLeaf(id, messageId)
    const before = leafWrites.get(id)
    const write = (async () => {
      await before?.catch(() => undefined) // its failure is its own flip's to report
      const { error } = await supabase().from('chat_sessions').update({ current_leaf_id: messageId }).eq('id', id)
      if (error) {
        list.leafRefused(id, messageId)
        throw error
      }
      list.leafStored(id, messageId)
    })()
    leafWrites.set(id, write)
    try {
      await write
    } finally {
      if (leafWrites.get(id) === write) leafWrites.delete(id)
    }
  }

  /** A new chat holding a copy of the path up to `messageId`; returns its id. Asked again while
   * that branch is being made (a double click), it is the same branch, not a second copy. */
  function branch(messageId: string): Promise<string> {
    const running = state.branching.value.get(messageId)
    if (running) return running
    const made = (async () => {
      // Named here and asked again with the name when the answer is lost: one copy, never two.
      const session = crypto.randomUUID()
      const { data, error } = await repeatWhileInDoubt(() => supabase().rpc('chat_branch', { message: messageId, session }))
      if (error) throw error
      const fresh = String(data)
      await list.refreshSession(fresh)
      return fresh
    })().finally(() => state.branching.value.delete(messageId))
    state.branching.value.set(messageId, made)
    return made
  }

  /** Delete a turn: its question and, by cascade, its answers (and their files); the questions
   * after it move up to its parent (the database splices them, `chat_messages_splice`), so the
   * rest of the conversation stays, and the model no longer sees the turn. Deleting a row that is
   * already gone deletes nothing, so the delete is sent again while its answer is in doubt. The
   * page then reads the conversation and the session (its leaf, if the turn held it) as stored. */
  async function remove(questionId: string): Promise<void> {
    const id = currentId.value
    if (!id) return
    const { error } = await repeatWhileInDoubt(async () => {
      const { error, status } = await supabase().from('chat_messages').delete().eq('id', questionId)
      return { data: null, error, status }
    })
    if (error) throw error
    for (const row of messages.value.filter((m) => m.id === questionId || m.reply_to === questionId)) rows.drop(row.id)
    await rows.loadMessages(id)
    await list.refreshSession(id)
  }

  return { stop, regenerate, edit, flip, branch, remove }
}
