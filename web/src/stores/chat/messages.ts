/**
 * The open conversation's rows and their live streams. Every row, whether read, inserted, or heard
 * on Realtime, goes through `upsert`, which keeps the list in time order and hands an answer row to
 * its stream (`reconcile`), so the stored row settles whatever was streamed. A row of another
 * session than the open one is ignored.
 */
import { triggerRef } from 'vue'
import { supabase } from '@/lib/supabase'
import { readAll } from '@/lib/pages'
import { byTime } from '@/lib/tree'
import { AnswerStream } from '@/lib/stream'
import { MESSAGE_COLUMNS, isFinal, type ChatMessage } from '@/lib/types'
import type { ChatState } from './state'
import type { SessionList } from './sessions'

export function conversationRows(state: ChatState, list: SessionList) {
  const { messages, streams, latest } = state

  /** The stream of an answer, made on first hearing of it; `replyTo` records it as its question's newest. */
  function streamFor(answerId: string, replyTo?: string | null): AnswerStream {
    if (replyTo) latest.set(replyTo, answerId)
    let stream = streams.value.get(answerId)
    if (!stream) {
      stream = new AnswerStream()
      streams.value.set(answerId, stream)
    }
    return stream
  }

  function upsert(row: ChatMessage): void {
    const index = messages.value.findIndex((m) => m.id === row.id)
    const known = index >= 0 ? messages.value[index] : undefined
    // A final answer stays final (the worker never reopens one): a read made while it was still
    // streaming can answer after the final row was heard, and must not put the stream back.
    if (known && isFinal(known.status) && row.status !== undefined && !isFinal(row.status)) return
    if (index >= 0) messages.value.splice(index, 1, { ...known, ...row })
    else {
      messages.value.push(row)
      messages.value.sort(byTime)
    }
    if (row.message_type === 'assistant' && row.reply_to) {
      streamFor(row.id).reconcile(row)
      triggerRef(streams)
      if (isFinal(row.status)) void list.refreshSession(row.session_id)
    }
  }

  function drop(id: string): void {
    messages.value = messages.value.filter((m) => m.id !== id)
  }

  /** Read the session's rows again, every one however long the conversation (lib/pages.ts: a
   * response holds at most `max_rows`), keeping optimistic ones the server has not returned yet. */
  async function loadMessages(id: string): Promise<void> {
    const rows = await readAll<ChatMessage>((from, to, counted) =>
      supabase()
        .from('chat_messages')
        .select(MESSAGE_COLUMNS, counted ? { count: 'exact' } : {})
        .eq('session_id', id)
        .order('created_at', { ascending: true })
        .order('id', { ascending: true })
        .range(from, to),
    )
    if (state.currentId.value !== id) return
    // In one pass, not row by row: `upsert` sorts the list and refreshes the session for each final
    // answer, which for a long conversation is quadratic work and a session read per answer.
    const byId = new Map(rows.map((row) => [row.id, row]))
    for (const m of messages.value) if (m.session_id === id && !byId.has(m.id)) byId.set(m.id, m) // optimistic
    messages.value = [...byId.values()].sort(byTime)
    let answered = false
    for (const row of messages.value) {
      if (row.message_type !== 'assistant' || !row.reply_to) continue
      streamFor(row.id).reconcile(row)
      answered ||= isFinal(row.status)
    }
    triggerRef(streams)
    if (answered) void list.refreshSession(id)
  }

  /** Read the answers to these questions (after `done`, and by the slow poll while any is in flight). */
  async function fetchAnswers(questionIds: string[]): Promise<void> {
    const { data, error } = await supabase().from('chat_messages').select(MESSAGE_COLUMNS).in('reply_to', questionIds)
    if (error || !data) return
    for (const row of data as ChatMessage[]) if (row.session_id === state.currentId.value) upsert(row)
  }

  return { streamFor, upsert, drop, loadMessages, fetchAnswers }
}

export type ConversationRows = ReturnType<typeof conversationRows>
