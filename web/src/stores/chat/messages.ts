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

/** PostgREST's filter for the rows after `row` in (created_at, id) order. The values are quoted: a
 * timestamp holds `:` and `+`, which a logic tree would otherwise have to take as they come. */
export function afterRow(row: Pick<ChatMessage, 'created_at' | 'id'>): string {
  const at = `"${row.created_at}"`
  return `created_at.gt.${at},and(created_at.eq.${at},id.gt.${row.id})`
}

export function conversationRows(state: ChatState, list: SessionList) {
  const { messages, streams, latest } = state
  // The reads of loadMessages begun, and the latest whose rows were taken.
  let readsIssued = 0
  let readApplied = 0
  // When each row was last put on the page by `upsert` (a count of upserts), and the questions
  // shown before their insert has answered: what a read that does not find them keeps.
  let upserts = 0
  const upserted = new Map<string, number>()
  const unsent = new Set<string>()

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

  /** Put a row on the page; `unsent`: a question shown before its insert has answered. */
  function upsert(row: ChatMessage, isUnsent = false): void {
    upserted.set(row.id, ++upserts)
    if (isUnsent) unsent.add(row.id)
    else unsent.delete(row.id)
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
    upserted.delete(id)
    unsent.delete(id)
    messages.value = messages.value.filter((m) => m.id !== id)
  }

  /** Read the session's rows again, every one however long the conversation (lib/pages.ts: a
   * response holds at most `max_rows`). A row shown that the read did not find is kept only if the
   * read could not have found it: a question whose insert has not answered, or a row put on the
   * page since the read began (heard meanwhile); any other was deleted (elsewhere: another tab, a
   * branch), and goes, since Realtime sends no DELETE to the session's filter (README).
   * Each page is the rows after the last one read in (created_at, id) order (chat_messages_session_idx),
   * so a message deleted meanwhile (a branch, another tab) makes none skipped. A read that answers
   * after one begun later is dropped: opening a conversation reads it and so does its channel once
   * ready (channel.ts), and the earlier read's older rows would put back what the later one saw
   * change (an answer streaming again, a deleted row shown again). */
  async function loadMessages(id: string): Promise<void> {
    const issued = ++readsIssued
    const began = upserts
    const rows = await readAll<ChatMessage>((after, size, counted) => {
      let query = supabase()
        .from('chat_messages')
        .select(MESSAGE_COLUMNS, counted ? { count: 'exact' } : {})
        .eq('session_id', id)
      // created_at >= the last one's as well: the index then starts at the read point, not at the conversation's first row.
      if (after) query = query.gte('created_at', after.created_at).or(afterRow(after))
      return query.order('created_at', { ascending: true }).order('id', { ascending: true }).limit(size)
    })
    if (state.currentId.value !== id || issued < readApplied) return
    readApplied = issued
    // In one pass, not row by row: `upsert` sorts the list and refreshes the session for each final
    // answer, which for a long conversation is quadratic work and a session read per answer.
    const byId = new Map(rows.map((row) => [row.id, row]))
    for (const m of messages.value) {
      if (m.session_id !== id || byId.has(m.id)) continue
      if (unsent.has(m.id) || (upserted.get(m.id) ?? 0) > began) byId.set(m.id, m)
      else upserted.delete(m.id)
    }
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
