/**
 * Opening another chat (or a new one) shows it at once: the chat left goes from the page, and the
 * store names the chat opened, before its old channel has been left (a round trip to Realtime,
 * longer on a slow line). The old conversation stayed on the page under the new address meanwhile,
 * and a question sent then went into the chat left (`send` asks in `currentId`'s chat).
 */
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import type { ChatMessage, ChatSession } from '@/lib/types'

/** What the fake client's channels were asked, and the leaves held until the test lets them go. */
const leaves: (() => void)[] = []
const reads: string[] = []

function row(id: string, session: string, extra: Partial<ChatMessage> = {}): ChatMessage {
  return {
    id, session_id: session, parent_id: null, answer_no: 1, message_type: 'user', content: id, role_id: null,
    status: 'completed', reply_to: null, tokens_used: 0, response_time: null, error_code: null, error_message: null,
    cancel_requested: false, created_at: '2026-01-01T00:00:01Z', web_search: false, model: null, finish_reason: null,
    reasoning: null, reasoning_ms: null, sources: null, ...extra,
  }
}

/** A PostgREST query answering a conversation's messages: a question and its answer in that chat. */
function query(table: string): unknown {
  let session = ''
  const builder: Record<string, unknown> = {}
  for (const name of ['select', 'gte', 'or', 'order', 'limit', 'in']) builder[name] = () => builder
  builder.eq = (column: string, value: string) => {
    if (column === 'session_id') session = value
    return builder
  }
  builder.then = (resolve: (answer: unknown) => unknown) => {
    reads.push(`${table} ${session}`)
    const data = table === 'chat_messages'
      ? [row(`q-${session}`, session), row(`a-${session}`, session, { message_type: 'assistant', parent_id: `q-${session}`, reply_to: `q-${session}`, created_at: '2026-01-01T00:00:02Z' })]
      : []
    return Promise.resolve({ data, error: null, count: data.length }).then(resolve)
  }
  builder.maybeSingle = () => Promise.resolve({ data: null, error: null })
  return builder
}

function topic(): unknown {
  const channel: Record<string, unknown> = {}
  channel.on = () => channel
  channel.subscribe = () => channel
  return channel
}

vi.mock('@/lib/supabase', () => ({
  supabase: () => ({
    from: query,
    channel: topic,
    realtime: { setAuth: () => Promise.resolve() },
    removeChannel: () => new Promise<void>((resolve) => leaves.push(resolve)),
  }),
}))

const { useChat } = await import('@/stores/chat')

function session(id: string): ChatSession {
  return { id, title: id, role_id: null, pinned_at: null } as unknown as ChatSession
}

/** The store with chat `s1` open and shown. */
async function opened() {
  const chat = useChat()
  await chat.open('s1', session('s1'))
  expect(chat.turns.map((t) => t.question.id)).toEqual(['q-s1'])
  return chat
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0))
}

beforeEach(() => {
  setActivePinia(createPinia())
  leaves.length = 0
  reads.length = 0
})

describe('opening a chat while the one shown is still being left', () => {
  it('a new chat: the one left is gone from the page and no longer the one asked in, at once', async () => {
    const chat = await opened()
    const leaving = chat.open(null)
    expect(leaves).toHaveLength(1) // its channel is being left, not yet answered
    expect(chat.currentId).toBeNull()
    expect(chat.turns).toEqual([])
    leaves[0]!()
    await leaving
    expect(chat.currentId).toBeNull()
    expect(chat.turns).toEqual([])
  })

  it('another chat: named at once, the one left gone, its own read once the old channel is left', async () => {
    const chat = await opened()
    const opening = chat.open('s2', session('s2'))
    expect(chat.currentId).toBe('s2')
    expect(chat.turns).toEqual([])
    leaves[0]!()
    await opening
    expect(chat.turns.map((t) => t.question.id)).toEqual(['q-s2'])
  })

  it('a third chat opened meanwhile wins: the second is neither read nor shown', async () => {
    const chat = await opened()
    const second = chat.open('s2', session('s2'))
    const third = chat.open('s3', session('s3'))
    expect(chat.currentId).toBe('s3')
    for (const leave of leaves) leave()
    await Promise.all([second, third])
    await settle()
    expect(chat.currentId).toBe('s3')
    expect(chat.turns.map((t) => t.question.id)).toEqual(['q-s3'])
    expect(reads.filter((r) => r.endsWith(' s2'))).toEqual([])
  })
})
