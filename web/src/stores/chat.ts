/**
 * Chat sessions and the open conversation. Sending inserts the user's row through supabase-js
 * (RLS checks the session is theirs); the worker answers on the private channel
 * `chat:<session id>` with ordered chunks, and the stored assistant row (postgres_changes, a
 * re-read on `done`, a slow poll while anything is in flight) is the truth that settles the text.
 */
import { defineStore } from 'pinia'
import { computed, ref, shallowRef, triggerRef } from 'vue'
import type { RealtimeChannel } from '@supabase/supabase-js'
import { supabase } from '@/lib/supabase'
import { AnswerStream, type ChunkEvent, type DoneEvent } from '@/lib/stream'
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

const SESSION_COLUMNS = 'id,role_id,title,message_count,last_message_at,archived_at,model,thinking,created_at'
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
}

function message(text: unknown): string {
  if (text && typeof text === 'object' && 'message' in text) return String((text as { message: unknown }).message)
  return String(text)
}

export function titleFrom(content: string): string {
  const flat = content.replace(/\s+/g, ' ').trim()
  return Array.from(flat).length > TITLE_LENGTH ? Array.from(flat).slice(0, TITLE_LENGTH).join('') + '…' : flat
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
    reasoning: row?.reasoning ?? stream?.reasoning ?? '',
    reasoningMs: row?.reasoning_ms ?? stream?.reasoningMs ?? null,
    thinkingNow: !(row && isFinal(row.status)) && (stream?.thinking ?? false),
    sources: row?.sources ?? stream?.sources ?? [],
    finishReason: row?.finish_reason ?? null,
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

  // Streams are keyed by the question's id (one answer per question); a triggerRef after each
  // event re-renders, cheaper than deep reactivity on every chunk.
  const streams = shallowRef(new Map<string, AnswerStream>())
  let channel: RealtimeChannel | null = null
  let joined: Promise<void> | null = null
  let poller: ReturnType<typeof setInterval> | null = null

  const current = computed(() => sessions.value.find((s) => s.id === currentId.value) ?? null)
  /** The sidebar's list: archived sessions stay in /history only (unless open right now). */
  const recent = computed(() => sessions.value.filter((s) => s.archived_at === null || s.id === currentId.value))

  const turns = computed<Turn[]>(() => {
    const answers = new Map<string, ChatMessage>()
    for (const m of messages.value) if (m.message_type === 'assistant' && m.reply_to) answers.set(m.reply_to, m)
    const map = streams.value
    return messages.value
      .filter((m) => m.message_type === 'user')
      .map((question) => ({ question, answer: answerView(answers.get(question.id), map.get(question.id)) }))
  })

  const inFlight = computed(() => turns.value.filter((t) => !t.answer.final))

  function streamFor(replyTo: string): AnswerStream {
    let stream = streams.value.get(replyTo)
    if (!stream) {
      stream = new AnswerStream()
      streams.value.set(replyTo, stream)
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
      streamFor(row.reply_to).reconcile(row)
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

  function sortSessions(): void {
    sessions.value.sort((a, b) => (b.last_message_at ?? b.created_at).localeCompare(a.last_message_at ?? a.created_at))
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
        if (streamFor(event.reply_to).chunk(event)) triggerRef(streams)
      })
      .on('broadcast', { event: 'reasoning' }, ({ payload }) => {
        const event = payload as ChunkEvent
        if (streamFor(event.reply_to).chunk(event, 'reasoning')) triggerRef(streams)
      })
      .on('broadcast', { event: 'done' }, ({ payload }) => {
        const event = payload as DoneEvent
        const stream = streamFor(event.reply_to)
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

  async function createSession(roleId: string | null, title: string): Promise<ChatSession> {
    const { data, error } = await supabase()
      .from('chat_sessions')
      .insert({ role_id: roleId, title, model: draftModel.value, thinking: draftThinking.value })
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
  ): Promise<void> {
    const row: ChatMessage = {
      id: crypto.randomUUID(),
      session_id: sessionId,
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
    const { data, error } = await supabase()
      .from('chat_messages')
      .insert({ id: row.id, session_id: sessionId, content, role_id: roleSlug, web_search: webSearch, attachments })
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
        const session = await createSession(role?.id ?? null, titleFrom(text))
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

  /** Ask the same question again: the old question and (by cascade) its answer make way. */
  async function regenerate(questionId: string): Promise<void> {
    const question = messages.value.find((m) => m.id === questionId)
    const id = currentId.value
    if (!question || !id) return
    sending.value = true
    try {
      const files = question.attachments ?? []
      // A question with files is asked again before the old one goes, so the files it shares
      // with the new question are not deleted with the old one.
      if (files.length) await insertQuestion(id, question.content, question.role_id, question.web_search, files)
      const { error } = await supabase().from('chat_messages').delete().eq('id', questionId)
      if (error) throw error
      messages.value = messages.value.filter((m) => m.id !== questionId && m.reply_to !== questionId)
      streams.value.delete(questionId)
      triggerRef(streams)
      if (!files.length) await insertQuestion(id, question.content, question.role_id, question.web_search)
    } finally {
      sending.value = false
    }
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
  }

  return {
    sessions, recent, sessionsLoading, sessionsError, currentId, current, messages, messagesLoading, messagesError, notFound,
    sending, channelState, turns, inFlight, models, draftModel, draftThinking,
    loadSessions, open, reload, send, setRole, stop, regenerate, deleteSession, reset, loadModels, setOptions,
  }
})
