/**
 * Chat sessions and the open conversation, as one Pinia store assembled from its parts in
 * `./chat/`: the state and its views (state.ts), the session list (sessions.ts), the open
 * conversation's rows and streams (messages.ts), its private Realtime channel (channel.ts),
 * asking (questions.ts), what a reader does to a turn (turns.ts), and the models and per-session
 * options (options.ts). Each part gets the state and the parts it uses; none imports another's
 * code, so there is no cycle.
 *
 * Sending inserts the user's row through supabase-js (RLS checks the session is theirs); the worker
 * answers on the private channel `chat:<session id>` with ordered chunks, and the stored assistant
 * row (postgres_changes, a re-read on `done`, a slow poll while anything is in flight) is the truth
 * that settles the text. A session is a tree (lib/tree.ts): the page shows the path to
 * `current_leaf_id`. Opening a session mid-answer starts from the stored text and continues from
 * the broadcasts (resume, lib/stream.ts). Deletes made elsewhere arrive as the database's private
 * broadcasts (a filtered subscription hears no DELETE): rows on the conversation's channel, chats,
 * renames, pins, archives and chats created elsewhere on the user's `user:<id>` (userChannel.ts),
 * whose every join reads the list again.
 */
import { defineStore } from 'pinia'
import { supabase } from '@/lib/supabase'
import type { ChatSession } from '@/lib/types'
import { chatState } from './chat/state'
import { sessionList } from './chat/sessions'
import { conversationRows } from './chat/messages'
import { sessionChannel } from './chat/channel'
import { userChannel } from './chat/userChannel'
import { asking } from './chat/questions'
import { turnActions } from './chat/turns'
import { modelOptions } from './chat/options'

export const useChat = defineStore('chat', () => {
  const state = chatState()
  const list = sessionList(state)
  const rows = conversationRows(state, list)
  const channel = sessionChannel(state, list, rows)
  const ask = asking(state, list, rows, channel, open)
  const actions = turnActions(state, list, rows, channel, ask)
  const options = modelOptions(state, list)
  const listChannel = userChannel(state, list, gone)
  const { currentId, notFound, messagesError, messagesLoading } = state

  // Every channel still being left: a channel is joined only after them (realtime-js hands back a
  // topic it still holds, so chat:<id> opened again while its old channel is leaving would be that one).
  let leaving: Promise<unknown> = Promise.resolve()

  /** Leave the open chat's channel: done once it and every channel left before it are. */
  function leaveChannel(): Promise<unknown> {
    const left = Promise.all([leaving, channel.leave()])
    leaving = left.catch(() => undefined) // a leave that failed holds up no later join
    return left
  }

  /**
   * Open a conversation (or none, for a new chat): check it is the user's, join its channel and
   * read its messages. `known` skips the check for a session just created. The chat opened is the
   * one shown and asked in at once, the old channel left meanwhile (a round trip to Realtime): the
   * chat left stayed on the page under the new address until then, and a question sent in that
   * time went into it.
   */
  async function open(id: string | null, known?: ChatSession): Promise<void> {
    if (id === currentId.value && (id === null || channel.isOpen() || notFound.value)) return
    const left = leaveChannel()
    currentId.value = id
    state.clearConversation()
    messagesError.value = null
    notFound.value = false
    messagesLoading.value = id !== null
    if (id === null) {
      await left
      return
    }
    try {
      await left
      if (currentId.value !== id) return // another chat was opened meanwhile
      if (!known) {
        // Someone else's session (or a deleted one) reads as missing under RLS: say so, join nothing.
        const row = await list.readSession(id)
        if (currentId.value !== id) return
        if (!row) {
          notFound.value = true
          return
        }
        list.put(row)
      }
      channel.join(id)
      await rows.loadMessages(id)
    } catch (e) {
      if (currentId.value === id) messagesError.value = e
    } finally {
      if (currentId.value === id) messagesLoading.value = false // a chat opened since says for itself
    }
  }

  async function reload(): Promise<void> {
    const id = currentId.value
    if (!id) return
    messagesError.value = null
    messagesLoading.value = true
    try {
      await rows.loadMessages(id)
    } catch (e) {
      messagesError.value = e
    } finally {
      messagesLoading.value = false
    }
  }

  /** The list, first page or `more`; while it is shown its chats created, deleted, renamed, pinned
   * or archived in another tab or on another device follow on the user's channel (chat/userChannel.ts). */
  async function loadSessions(more = false): Promise<void> {
    const { data } = await supabase().auth.getSession()
    void listChannel.follow(data.session?.user.id ?? null).catch(() => undefined)
    await list.loadSessions(more)
  }

  /** The open chat was deleted elsewhere: it reads as missing, as a deleted chat opened does. */
  function gone(id: string): void {
    if (currentId.value !== id) return
    void leaveChannel()
    state.clearConversation()
    notFound.value = true
  }

  async function deleteSession(id: string): Promise<void> {
    await list.remove(id)
    if (currentId.value === id) await open(null)
  }

  /** Forget everything (sign-out, account deletion). */
  async function reset(): Promise<void> {
    await channel.leave()
    await listChannel.leave()
    state.sessions.value = []
    currentId.value = null
    state.clearConversation()
  }

  return {
    sessions: state.sessions, recent: state.recent, sessionsLoading: state.sessionsLoading, sessionsError: state.sessionsError,
    sessionsMore: state.sessionsMore,
    currentId, current: state.current, messages: state.messages, messagesLoading, messagesError, notFound,
    sending: state.sending, channelState: state.channelState, turns: state.turns, inFlight: state.inFlight,
    models: state.models, draftModel: state.draftModel, draftThinking: state.draftThinking, branching: state.branching,
    loadSessions, open, reload, send: ask.send, setRole: list.setRole, stop: actions.stop,
    regenerate: actions.regenerate, deleteSession, reset, loadModels: options.loadModels, setOptions: options.setOptions,
    edit: actions.edit, flip: actions.flip, branch: actions.branch, removeTurn: actions.remove, setPinned: list.setPinned, rename: list.rename,
  }
})
