/**
 * The chat store's state in one place, shared by its parts (sessions, messages, channel,
 * questions, tree operations): plain refs and the views computed from them. No I/O here.
 *
 * Streams are keyed by the answer's id (a question may have several answers); `latest` names the
 * newest answer heard of per question, for a question whose answer row has not been read yet.
 * A `triggerRef(streams)` after each event re-renders, cheaper than deep reactivity on every chunk;
 * `turns` keeps every turn the event did not change (lib/answer.ts), so only the streaming one renders.
 */
import { computed, ref, shallowRef } from 'vue'
import type { AnswerStream } from '@/lib/stream'
import { branches } from '@/lib/tree'
import { turnsOf, type Turn } from '@/lib/answer'
import type { ChatMessage, ChatSession, ModelInfo } from '@/lib/types'

export type ChannelState = 'idle' | 'joining' | 'joined' | 'error'

export function chatState() {
  const sessions = ref<ChatSession[]>([])
  const sessionsLoading = ref(false)
  /** What failed, as thrown: the page words it (lib/errors) in the reader's language. */
  const sessionsError = ref<unknown>(null)
  /** Older sessions than those listed exist (the list is read a page at a time). */
  const sessionsMore = ref(false)

  const currentId = ref<string | null>(null)
  const messages = ref<ChatMessage[]>([])
  const messagesLoading = ref(false)
  const messagesError = ref<unknown>(null)
  const notFound = ref(false)
  const sending = ref(false)
  const channelState = ref<ChannelState>('idle')
  const models = ref<ModelInfo[]>([])
  /** Choices made before the first question creates the session. */
  const draftModel = ref<string | null>(null)
  const draftThinking = ref<boolean | null>(null)
  /** Each branch being made, by the answer it copies up to: asked again meanwhile, the same copy. */
  const branching = ref(new Map<string, Promise<string>>())

  const streams = shallowRef(new Map<string, AnswerStream>())
  const latest = new Map<string, string>()

  const current = computed(() => sessions.value.find((s) => s.id === currentId.value) ?? null)
  /** The sidebar's list: archived sessions stay in /history only (unless open right now). */
  const recent = computed(() => sessions.value.filter((s) => s.archived_at === null || s.id === currentId.value))
  const tree = computed(() => branches(messages.value, current.value?.current_leaf_id ?? null))
  const turns = computed<Turn[]>((previous) => turnsOf(tree.value, streams.value, latest, previous))
  const inFlight = computed(() => turns.value.filter((t) => !t.answer.final))

  /** Forget the open conversation's rows and streams. */
  function clearConversation(): void {
    messages.value = []
    streams.value = new Map()
    latest.clear()
  }

  return {
    sessions, sessionsLoading, sessionsError, sessionsMore, currentId, messages, messagesLoading, messagesError, notFound,
    sending, channelState, models, draftModel, draftThinking, branching, streams, latest,
    current, recent, tree, turns, inFlight, clearConversation,
  }
}

export type ChatState = ReturnType<typeof chatState>
