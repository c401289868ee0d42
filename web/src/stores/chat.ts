/**
 * Chat sessions and the open conversation. Sending inserts the user's row through supabase-js
 * (RLS checks the session is theirs); the worker answers on the private channel
 * `chat:<session id>` with ordered chunks, and the stored assistant row (postgres_changes, a
 * re-read on `done`, a slow poll while anything is in flight) is the truth that settles the text.
 *
 * A session is a tree (lib/tree.ts): the page shows the path to `current_leaf_id`; editing a
 * question adds a sibling, regenerating asks for the next numbered answer (`request_answer`, so a
 * second click changes nothing), and flipping between siblings moves the leaf, which is stored,
 * so the choice survives a reload. Opening a session mid-answer starts from the stored text and
 * continues from the broadcasts (resume, lib/stream.ts).
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, triggerRef } from 'vue'
import type { RealtimeChannel } from '@supabase/supabase-js'
import { supabase } from '@/lib/supabase'
import { AnswerStream, type ChunkEvent, type DoneEvent } from '@/lib/stream'
import { branches } from '@/lib/tree'
import { usageOf, type AnswerUsage } from '@/lib/usage'
import {
  MESSAGE_COLUMNS,
  isFinal,
  type Attachment,
  type ChatMessage,
  type ChatSession,
  type MessageStatus,
  type ModelInfo,
  type Source,
} from '@/lib/types'

const SESSION_COLUMNS =
  'id,role_id,title,message_count,last_message_at,archived_at,model,thinking,current_leaf_id,branched,pinned_at,created_at'
const MODEL_COLUMNS =
  'id,display_name,description,context_window,max_output,supports_thinking,supports_vision,supports_search,supports_documents'
const POLL_MS = 2500
const JOIN_WAIT_MS = 5000
export const TITLE_LENGTH = 40

export type ChannelState = 'idle' | 'joining' | 'joined' | 'error'

export interface AnswerView {
  id: string | null
  text: string
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
  /** The answer's token counts as stored (null until final, or when the provider gave none). */
  usage: AnswerUsage | null
}


/** Per-session choices for the next question: model and thinking live on the session, search per message. */
export interface SendOptions {
  webSearch?: boolean
  /** Files already uploaded to the `attachments` bucket. */
  attachments?: Attachment[]
}

export interface Turn {
  question: ChatMessage
  answer: AnswerView
  /** The question and its edits, oldest first (one id when never edited). */
  questionSiblings: string[]
  /** The answers to the question, oldest first (empty before the first one exists). */
  answerSiblings: string[]
}

function message(text: unknown): string {
  if (text && typeof text === 'object' && 'message' in text) return String((text as { message: unknown }).message)
  return String(text)
}

export function titleFrom(content: string): string {
  const flat = content.replace(/\s+/g, ' ').trim()
  return Array.from(flat).length > TITLE_LENGTH ? Array.from(flat).slice(0, TITLE_LENGTH).join('') + '…' : flat
}

function longer(a: string | null | undefined, b: string | null | undefined): string | null {
  return (a ?? '').length >= (b ?? '').length ? (a ?? null) : (b ?? null)
}

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
    sources: row?.sources ?? stream?.sources ?? [],
    finishReason: row?.finish_reason ?? null,
    usage: usageOf(row),
  }
  if (row && isFinal(row.status)) return { ...base, text: row.content, status: row.status, final: true }
  const streamed = stream?.text ?? ''
  const stored = row?.content ?? ''
  const text = streamed.length >= stored.length ? streamed : stored
  const status: MessageStatus =
    stream && stream.status !== 'pending' ? (isFinal(stream.status) ? 'streaming' : stream.status) : (row?.status ?? 'pending')
  return { ...base, text, status, final: false }
}

export const useChat = defineStore('chat', () => {
  const sessions = ref<ChatSession[]>([])
  const sessionsLoading = ref(false)
  const sessionsError = ref<string | null>(null)

  const currentId = ref<string | null>(null)
  const messages = ref<ChatMessage[]>([])
  const messagesLoading = ref(false)
  const messagesError = ref<string | null>(null)
  const notFound = ref(false)
  const sending = ref(false)
  const channelState = ref<ChannelState>('idle')
  const models = ref<ModelInfo[]>([])
  /** Choices made before the first question creates the session. */
  const draftModel = ref<string | null>(null)
  const draftThinking = ref<boolean | null>(null)

  // Streams are keyed by the answer's id (a question may have several answers); `latest` names the
  // newest answer heard of per question, for a question whose answer row has not been read yet.
  // A triggerRef after each event re-renders, cheaper than deep reactivity on every chunk.
  const streams = shallowRef(new Map<string, AnswerStream>())
  const latest = new Map<string, string>()
  let channel: RealtimeChannel | null = null
  let joined: Promise<void> | null = null
  let poller: ReturnType<typeof setInterval> | null = null

  const current = computed(() => sessions.value.find((s) => s.id === currentId.value) ?? null)
  /** The sidebar's list: archived sessions stay in /history only (unless open right now). */
  const recent = computed(() => sessions.value.filter((s) => s.archived_at === null || s.id === currentId.value))

  const tree = computed(() => branches(messages.value, current.value?.current_leaf_id ?? null))

  const turns = computed<Turn[]>(() => {
    const { path, siblings } = tree.value
    const map = streams.value
    const out: Turn[] = []
    path.forEach((question, i) => {
      if (question.message_type !== 'user') return
      const next = path[i + 1]
      const row = next && next.message_type === 'assistant' && next.reply_to === question.id ? next : undefined
      const streamId = row?.id ?? latest.get(question.id)
      out.push({
        question,
        answer: answerView(row, streamId ? map.get(streamId) : undefined),
        questionSiblings: siblings.get(question.id) ?? [question.id],
        answerSiblings: row ? (siblings.get(row.id) ?? [row.id]) : [],
      })
    })
    return out
  })

  const inFlight = computed(() => turns.value.filter((t) => !t.answer.final))

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
    if (index >= 0) messages.value.splice(index, 1, { ...messages.value[index], ...row })
    else {
      messages.value.push(row)
      messages.value.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0))
    }
    if (row.message_type === 'assistant' && row.reply_to) {
      streamFor(row.id).reconcile(row)
      triggerRef(streams)
      if (isFinal(row.status)) void refreshSession(row.session_id)
    }
  }

  async function loadSessions(): Promise<void> {
    sessionsLoading.value = true
    sessionsError.value = null
    try {
      const { data, error } = await supabase()
        .from('chat_sessions')
        .select(SESSION_COLUMNS)
        .order('last_message_at', { ascending: false, nullsFirst: false })
        .order('created_at', { ascending: false })
        .limit(200)
      if (error) throw error
      sessions.value = (data ?? []) as ChatSession[]
      sortSessions()
    } catch (e) {
      sessionsError.value = message(e)
    } finally {
      sessionsLoading.value = false
    }
  }

  async function refreshSession(id: string): Promise<void> {
    const { data } = await supabase().from('chat_sessions').select(SESSION_COLUMNS).eq('id', id).maybeSingle()
    if (!data) return
    sessions.value = [data as ChatSession, ...sessions.value.filter((s) => s.id !== id)]
    sortSessions()
  }

  /** Pinned first (most recently pinned on top), then by last activity. */
  function sortSessions(): void {
    sessions.value.sort(
      (a, b) =>
        (b.pinned_at ?? '').localeCompare(a.pinned_at ?? '') ||
        (b.last_message_at ?? b.created_at).localeCompare(a.last_message_at ?? a.created_at),
    )
  }

  async function loadMessages(id: string): Promise<void> {
    const { data, error } = await supabase()
      .from('chat_messages')
      .select(MESSAGE_COLUMNS)
      .eq('session_id', id)
      .order('created_at', { ascending: true })
      .order('id', { ascending: true })
      .limit(1000)
    if (error) throw error
    if (currentId.value !== id) return
    const rows = (data ?? []) as ChatMessage[]
    const optimistic = messages.value.filter((m) => m.session_id === id && !rows.some((r) => r.id === m.id))
    messages.value = []
    for (const row of [...rows, ...optimistic]) upsert(row)
  }

  /**
   * Open a conversation (or none, for a new chat): check it is the user's, join its channel and
   * read its messages. `known` skips the check for a session just created.
   */
  async function open(id: string | null, known?: ChatSession): Promise<void> {
    if (id === currentId.value && (id === null || channel || notFound.value)) return
    await leave()
    currentId.value = id
    messages.value = []
    messagesError.value = null
    notFound.value = false
    streams.value = new Map()
    latest.clear()
    if (id === null) return
    messagesLoading.value = true
    try {
      if (!known) {
        // Someone else's session (or a deleted one) reads as missing under RLS: say so, join nothing.
        const { data, error } = await supabase().from('chat_sessions').select(SESSION_COLUMNS).eq('id', id).maybeSingle()
        if (error) throw error
        if (currentId.value !== id) return
        if (!data) {
          notFound.value = true
          return
        }
        sessions.value = [data as ChatSession, ...sessions.value.filter((s) => s.id !== id)]
        sortSessions()
      }
      join(id)
      await loadMessages(id)
    } catch (e) {
      messagesError.value = message(e)
    } finally {
      messagesLoading.value = false
    }
  }

  async function reload(): Promise<void> {
    const id = currentId.value
    if (!id) return
    messagesError.value = null
    messagesLoading.value = true
    try {
      await loadMessages(id)
    } catch (e) {
      messagesError.value = message(e)
    } finally {
      messagesLoading.value = false
    }
  }

  function join(id: string): void {
    const client = supabase()
    channelState.value = 'joining'
    let resolveJoined: () => void = () => {}
    joined = new Promise((resolve) => (resolveJoined = resolve))
    const topic = client.channel(`chat:${id}`, { config: { private: true } })
    channel = topic
    topic
      .on('broadcast', { event: 'chunk' }, ({ payload }) => {
        const event = payload as ChunkEvent
        if (streamFor(event.message_id, event.reply_to).chunk(event)) triggerRef(streams)
      })
      .on('broadcast', { event: 'reasoning' }, ({ payload }) => {
        const event = payload as ChunkEvent
        if (streamFor(event.message_id, event.reply_to).chunk(event, 'reasoning')) triggerRef(streams)
      })
      .on('broadcast', { event: 'done' }, ({ payload }) => {
        const event = payload as DoneEvent
        const stream = streamFor(event.message_id, event.reply_to)
        if (stream.done(event)) triggerRef(streams)
        void fetchAnswers([event.reply_to])
      })
      .on(
        'postgres_changes',
        { event: '*', schema: 'public', table: 'chat_messages', filter: `session_id=eq.${id}` },
        (change) => {
          if (currentId.value !== id) return
          if (change.eventType === 'DELETE') {
            const old = change.old as { id?: string }
            messages.value = messages.value.filter((m) => m.id !== old.id)
          } else {
            upsert(change.new as ChatMessage)
          }
        },
      )
      .on(
        'postgres_changes',
        { event: 'UPDATE', schema: 'public', table: 'chat_sessions', filter: `id=eq.${id}` },
        (change) => mergeSession(change.new as Partial<ChatSession> & { id: string }),
      )
    // The join must carry the user's JWT: Realtime checks RLS on realtime.messages with it.
    void client.realtime.setAuth().then(() =>
      topic.subscribe((status) => {
        if (channel !== topic) return
        if (status === 'SUBSCRIBED') {
          const catchUp = channelState.value !== 'joining'
          channelState.value = 'joined'
          resolveJoined()
          // After a reconnect, read what was missed while away.
          if (catchUp) void loadMessages(id).catch(() => undefined)
        } else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') {
          channelState.value = 'error'
        } else if (status === 'CLOSED') {
          channelState.value = 'idle'
        }
      }),
    )
    poller = setInterval(() => {
      const waiting = inFlight.value.map((t) => t.question.id)
      if (waiting.length > 0) void fetchAnswers(waiting)
    }, POLL_MS)
  }

  async function leave(): Promise<void> {
    if (poller) clearInterval(poller)
    poller = null
    const old = channel
    channel = null
    joined = null
    channelState.value = 'idle'
    if (old) await supabase().removeChannel(old)
  }

  async function fetchAnswers(questionIds: string[]): Promise<void> {
    const { data, error } = await supabase().from('chat_messages').select(MESSAGE_COLUMNS).in('reply_to', questionIds)
    if (error || !data) return
    for (const row of data as ChatMessage[]) if (row.session_id === currentId.value) upsert(row)
  }

  async function waitJoined(): Promise<void> {
    if (!joined) return
    await Promise.race([joined, new Promise<void>((resolve) => setTimeout(resolve, JOIN_WAIT_MS))])
  }

  /** A new session; untitled, so the worker titles it after the first answer in its language. */
  async function createSession(roleId: string | null): Promise<ChatSession> {
    const { data, error } = await supabase()
      .from('chat_sessions')
      .insert({ role_id: roleId, model: draftModel.value, thinking: draftThinking.value })
      .select(SESSION_COLUMNS)
      .single()
    if (error) throw error
    const row = data as ChatSession
    sessions.value = [row, ...sessions.value]
    return row
  }

  async function insertQuestion(
    sessionId: string,
    content: string,
    roleSlug: string | null,
    webSearch = false,
    attachments: Attachment[] = [],
    parentId?: string | null,
  ): Promise<void> {
    const row: ChatMessage = {
      id: crypto.randomUUID(),
      session_id: sessionId,
      parent_id: parentId === undefined ? (tree.value.path.at(-1)?.id ?? null) : parentId,
      answer_no: null,
      message_type: 'user',
      content,
      role_id: roleSlug,
      status: 'completed',
      reply_to: null,
      tokens_used: 0,
      response_time: null,
      error_code: null,
      error_message: null,
      cancel_requested: false,
      attachments,
      created_at: new Date().toISOString(),
      web_search: webSearch,
      model: null,
      finish_reason: null,
      reasoning: null,
      reasoning_ms: null,
      sources: null,
    }
    upsert(row)
    setLeaf(sessionId, row.id)
    const fields: Record<string, unknown> = {
      id: row.id,
      session_id: sessionId,
      content,
      role_id: roleSlug,
      web_search: webSearch,
      attachments,
    }
    if (parentId !== undefined) fields.parent_id = parentId // an edit; otherwise the database follows the conversation
    const { data, error } = await supabase()
      .from('chat_messages')
      .insert(fields)
      .select(MESSAGE_COLUMNS)
      .single()
    if (error) {
      messages.value = messages.value.filter((m) => m.id !== row.id)
      throw error
    }
    upsert(data as ChatMessage)
  }

  /** Send a question; the first one creates the session. Returns the session id. */
  async function send(
    content: string,
    role: { id: string; slug: string } | null,
    options: SendOptions = {},
  ): Promise<string> {
    const text = content.trim()
    if (!text) throw new Error('empty message')
    sending.value = true
    try {
      let id = currentId.value
      if (!id) {
        const session = await createSession(role?.id ?? null)
        await open(session.id, session)
        id = session.id
      } else if (role && current.value && current.value.role_id !== role.id) {
        await setRole(role.id)
      }
      // Be on the channel before the worker can start answering, so the first chunks arrive.
      await waitJoined()
      await insertQuestion(id, text, role?.slug ?? null, options.webSearch ?? false, options.attachments ?? [])
      void refreshSession(id)
      return id
    } finally {
      sending.value = false
    }
  }

  async function setRole(roleId: string): Promise<void> {
    const id = currentId.value
    if (!id) return
    const { error } = await supabase().from('chat_sessions').update({ role_id: roleId }).eq('id', id)
    if (error) throw error
    sessions.value = sessions.value.map((s) => (s.id === id ? { ...s, role_id: roleId } : s))
  }

  /** Ask the answer in flight to stop: RLS lets the owner set exactly cancel_requested. */
  async function stop(questionId: string): Promise<void> {
    const deadline = Date.now() + 5000
    for (;;) {
      const turn = turns.value.find((t) => t.question.id === questionId)
      if (!turn || turn.answer.final) return
      if (turn.answer.id) {
        const { error } = await supabase()
          .from('chat_messages')
          .update({ cancel_requested: true })
          .eq('id', turn.answer.id)
        if (error) throw error
        const row = messages.value.find((m) => m.id === turn.answer.id)
        if (row) upsert({ ...row, cancel_requested: true })
        return
      }
      // The worker has not created the answer row yet; it will very soon.
      if (Date.now() > deadline) return
      await fetchAnswers([questionId])
      if (!turns.value.find((t) => t.question.id === questionId)?.answer.id) {
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
  }

  /** Another answer to the question, kept beside the others: asks for the next number, so a
   *  double click or a retry asks for the same one and gets the same answer. */
  async function regenerate(questionId: string): Promise<void> {
    const id = currentId.value
    if (!id) return
    const numbers = messages.value.filter((m) => m.reply_to === questionId).map((m) => m.answer_no ?? 1)
    sending.value = true
    try {
      await waitJoined()
      const { data, error } = await supabase().rpc('request_answer', {
        question: questionId,
        answer_no: Math.max(0, ...numbers) + 1,
      })
      if (error) throw error
      const row = data as ChatMessage
      upsert(row)
      setLeaf(id, row.id)
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
      await waitJoined()
      await insertQuestion(id, text, question.role_id, question.web_search, question.attachments ?? [], question.parent_id)
    } finally {
      sending.value = false
    }
  }

  /** Show another branch: the path through `messageId` (a sibling picked with ‹ n / m ›), remembered. */
  async function flip(messageId: string): Promise<void> {
    const id = currentId.value
    if (!id) return
    setLeaf(id, messageId)
    const { error } = await supabase().from('chat_sessions').update({ current_leaf_id: messageId }).eq('id', id)
    if (error) throw error
  }

  /** A new chat holding a copy of the path up to `messageId`; returns its id. */
  async function branch(messageId: string): Promise<string> {
    const { data, error } = await supabase().rpc('chat_branch', { message: messageId })
    if (error) throw error
    const fresh = String(data)
    await refreshSession(fresh)
    return fresh
  }

  function setLeaf(sessionId: string, leaf: string): void {
    sessions.value = sessions.value.map((s) => (s.id === sessionId ? { ...s, current_leaf_id: leaf } : s))
  }

  function mergeSession(row: Partial<ChatSession> & { id: string }): void {
    const known = sessions.value.find((s) => s.id === row.id)
    if (!known) return
    // The leaf moves locally first (send, flip, regenerate); a stale echo must not move it back.
    const { current_leaf_id: _leaf, ...rest } = row
    sessions.value = sessions.value.map((s) => (s.id === row.id ? { ...s, ...rest } : s))
    sortSessions()
  }

  async function setPinned(id: string, pinned: boolean): Promise<void> {
    const pinnedAt = pinned ? new Date().toISOString() : null
    const { error } = await supabase().from('chat_sessions').update({ pinned_at: pinnedAt }).eq('id', id)
    if (error) throw error
    sessions.value = sessions.value.map((s) => (s.id === id ? { ...s, pinned_at: pinnedAt } : s))
    sortSessions()
  }

  async function rename(id: string, title: string): Promise<void> {
    const value = title.trim().slice(0, 200) || null
    const { error } = await supabase().from('chat_sessions').update({ title: value }).eq('id', id)
    if (error) throw error
    sessions.value = sessions.value.map((s) => (s.id === id ? { ...s, title: value } : s))
  }

  async function loadModels(): Promise<void> {
    if (models.value.length > 0) return
    const { data, error } = await supabase().from('models').select(MODEL_COLUMNS).order('sort_order').order('id')
    if (error) throw error
    models.value = (data ?? []) as ModelInfo[]
  }

  /** Change the open session's model or thinking switch (between turns), or the new chat's. */
  async function setOptions(change: { model?: string | null; thinking?: boolean | null }): Promise<void> {
    const id = currentId.value
    if (!id) {
      if ('model' in change) draftModel.value = change.model ?? null
      if ('thinking' in change) draftThinking.value = change.thinking ?? null
      return
    }
    const { error } = await supabase().from('chat_sessions').update(change).eq('id', id)
    if (error) throw error
    sessions.value = sessions.value.map((s) => (s.id === id ? { ...s, ...change } : s))
  }

  async function deleteSession(id: string): Promise<void> {
    const { error } = await supabase().from('chat_sessions').delete().eq('id', id)
    if (error) throw error
    sessions.value = sessions.value.filter((s) => s.id !== id)
    if (currentId.value === id) await open(null)
  }

  async function reset(): Promise<void> {
    await leave()
    sessions.value = []
    messages.value = []
    currentId.value = null
    streams.value = new Map()
    latest.clear()
  }

  return {
    sessions, recent, sessionsLoading, sessionsError, currentId, current, messages, messagesLoading, messagesError, notFound,
    sending, channelState, turns, inFlight, models, draftModel, draftThinking,
    loadSessions, open, reload, send, setRole, stop, regenerate, deleteSession, reset, loadModels, setOptions,
    edit, flip, branch, setPinned, rename,
  }
})
