/**
 * Asking: a question row is shown at once (optimistic, with a client-made id) and inserted through
 * supabase-js, where RLS checks the session is the user's; an insert whose response was lost is
 * found or sent again under the same id, so it is stored and charged once (lib/storeOnce.ts); on
 * refusal the optimistic row goes away and the error reaches the caller. The first question of a
 * new chat creates the session. The worker answers what is stored, so nothing here talks to the
 * model.
 */
import { storeOnce } from '@/lib/storeOnce'
import { supabase } from '@/lib/supabase'
import { MESSAGE_COLUMNS, type Attachment, type ChatMessage, type ChatSession } from '@/lib/types'
import type { ChatState } from './state'
import type { SessionList } from './sessions'
import type { ConversationRows } from './messages'
import type { SessionChannel } from './channel'

/** Per-session choices for the next question: model and thinking live on the session, search per message. */
export interface SendOptions {
  webSearch?: boolean
  /** Files already uploaded to the `attachments` bucket. */
  attachments?: Attachment[]
}

export interface Question {
  content: string
  roleSlug: string | null
  webSearch: boolean
  attachments: Attachment[]
  /** Only for an edit (a sibling of the edited question); otherwise the database follows the conversation. */
  parentId?: string | null
  /** The question an edit replaces: the database gives the edit what that one brought (a /v1 request's messages). */
  editedFrom?: string
}

function optimisticRow(id: string, sessionId: string, q: Question, parentId: string | null): ChatMessage {
  return {
    id,
    session_id: sessionId,
    parent_id: parentId,
    answer_no: null,
    message_type: 'user',
    content: q.content,
    role_id: q.roleSlug,
    status: 'completed',
    reply_to: null,
    tokens_used: 0,
    response_time: null,
    error_code: null,
    error_message: null,
    cancel_requested: false,
    attachments: q.attachments,
    created_at: new Date().toISOString(),
    web_search: q.webSearch,
    model: null,
    finish_reason: null,
    reasoning: null,
    reasoning_ms: null,
    sources: null,
  }
}

export function asking(
  state: ChatState,
  list: SessionList,
  rows: ConversationRows,
  channel: SessionChannel,
  open: (id: string, known: ChatSession) => Promise<void>,
) {
  async function insertQuestion(sessionId: string, q: Question): Promise<void> {
    const parentId = q.parentId === undefined ? (state.tree.value.path.at(-1)?.id ?? null) : q.parentId
    const row = optimisticRow(crypto.randomUUID(), sessionId, q, parentId)
    rows.upsert(row, true)
    list.setLeaf(sessionId, row.id)
    const fields: Record<string, unknown> = {
      id: row.id,
      session_id: sessionId,
      content: q.content,
      role_id: q.roleSlug,
      web_search: q.webSearch,
      attachments: q.attachments,
    }
    if (q.parentId !== undefined) fields.parent_id = q.parentId
    if (q.editedFrom !== undefined) fields.edited_from = q.editedFrom
    const { data, error } = await storeOnce<ChatMessage>(
      () => supabase().from('chat_messages').insert(fields).select(MESSAGE_COLUMNS).single(),
      () => supabase().from('chat_messages').select(MESSAGE_COLUMNS).eq('id', row.id).maybeSingle(),
    )
    if (error) {
      rows.drop(row.id)
      list.leafRefused(sessionId, row.id)
      throw error
    }
    // The insert trigger has moved the stored leaf to this question.
    list.leafStored(sessionId, row.id)
    rows.upsert(data as ChatMessage)
  }

  /** Send a question; the first one creates the session. Returns the session id. */
  async function send(content: string, role: { id: string; slug: string } | null, options: SendOptions = {}): Promise<string> {
    const text = content.trim()
    if (!text) throw new Error('empty message')
    state.sending.value = true
    try {
      let id = state.currentId.value
      if (!id) {
        const session = await list.createSession(role?.id ?? null)
        await open(session.id, session)
        id = session.id
      } else if (role && state.current.value && state.current.value.role_id !== role.id) {
        await list.setRole(role.id)
      }
      // Be on the channel before the worker can start answering, so the first chunks arrive.
      await channel.waitJoined()
      await insertQuestion(id, {
        content: text,
        roleSlug: role?.slug ?? null,
        webSearch: options.webSearch ?? false,
        attachments: options.attachments ?? [],
      })
      void list.refreshSession(id)
      return id
    } finally {
      state.sending.value = false
    }
  }

  return { insertQuestion, send }
}

export type Asking = ReturnType<typeof asking>
