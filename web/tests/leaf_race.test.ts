/**
 * The reader's choice of branch (‹ n / m ›) against session rows read before it was stored: a
 * refresh that was in flight when the user flipped must not put the old leaf back, while a read
 * made after the choice was stored (another tab's later choice, a regenerate) still applies.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest'
import type { ChatSession } from '@/lib/types'

interface Call {
  table: string
  verb: 'select' | 'update'
  change?: Record<string, unknown>
  resolve: (value: { data: unknown; error: unknown }) => void
}

const calls: Call[] = []

/** A supabase-js stand-in whose every request waits until the test answers it, in any order. */
function request(table: string, verb: Call['verb'], change?: Record<string, unknown>): Promise<{ data: unknown; error: unknown }> {
  return new Promise((resolve) => calls.push({ table, verb, change, resolve }))
}

vi.mock('@/lib/supabase', () => ({
  supabase: () => ({
    from: (table: string) => ({
      select: () => ({ eq: () => ({ maybeSingle: () => request(table, 'select') }) }),
      update: (change: Record<string, unknown>) => ({ eq: () => request(table, 'update', change) }),
    }),
  }),
}))

const { chatState } = await import('@/stores/chat/state')
const { sessionList } = await import('@/stores/chat/sessions')
const { turnActions } = await import('@/stores/chat/turns')

function session(leaf: string): ChatSession {
  return {
    id: 's1', role_id: null, title: 't', message_count: 4, last_message_at: null, archived_at: null, model: null,
    thinking: null, current_leaf_id: leaf, branched: true, pinned_at: null, created_at: '2026-01-01T00:00:00Z',
  }
}

/** Answer the `index`th request the store made. */
function answer(index: number, value: { data: unknown; error: unknown }): void {
  const call = calls[index]
  if (!call) throw new Error(`no request number ${index}`)
  call.resolve(value)
}

/** Let the store's awaits run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

function store() {
  const state = chatState()
  const list = sessionList(state)
  const none = {} as never
  const actions = turnActions(state, list, none, none, none)
  state.currentId.value = 's1'
  list.put(session('a2'))
  return { state, list, actions }
}

const leaf = (state: ReturnType<typeof chatState>) => state.current.value?.current_leaf_id

describe('flipping between answers while a session read is in flight', () => {
  beforeEach(() => {
    calls.length = 0
  })

  it('keeps the flip when a read made before it answers after it', async () => {
    const { state, list, actions } = store()
    const refresh = list.refreshSession('s1') // e.g. after the regenerated answer became final
    await settle()
    const flip = actions.flip('a1')
    await settle()
    expect(leaf(state)).toBe('a1')
    // The read was made before the flip: it carries the old leaf, and answers last.
    answer(0, { data: { ...session('a2'), message_count: 5 }, error: null })
    await refresh
    expect(leaf(state)).toBe('a1')
    expect(state.current.value?.message_count).toBe(5)
    answer(1, { data: null, error: null })
    await flip
    expect(leaf(state)).toBe('a1')
  })

  it('keeps the flip when a read made after it, but before it was stored, answers with the old leaf', async () => {
    const { state, list, actions } = store()
    const flip = actions.flip('a1')
    await settle()
    const refresh = list.refreshSession('s1')
    await settle()
    answer(1, { data: session('a2'), error: null })
    await refresh
    expect(leaf(state)).toBe('a1')
    answer(0, { data: null, error: null })
    await flip
    expect(leaf(state)).toBe('a1')
  })

  it("applies a read made after the flip was stored: another tab's later choice wins", async () => {
    const { state, list, actions } = store()
    const flip = actions.flip('a1')
    await settle()
    answer(0, { data: null, error: null })
    await flip
    const refresh = list.refreshSession('s1')
    await settle()
    answer(1, { data: session('a3'), error: null })
    await refresh
    expect(leaf(state)).toBe('a3')
  })

  it('gives the leaf back to the server when the flip is refused', async () => {
    const { state, list, actions } = store()
    const flip = actions.flip('a1')
    await settle()
    answer(0, { data: null, error: { message: 'refused' } })
    await expect(flip).rejects.toMatchObject({ message: 'refused' })
    const refresh = list.refreshSession('s1')
    await settle()
    answer(1, { data: session('a2'), error: null })
    await refresh
    expect(leaf(state)).toBe('a2')
  })

  it('stores quick flips in the order they were made', async () => {
    const { state, actions } = store()
    const first = actions.flip('a1')
    const second = actions.flip('a3')
    await settle()
    expect(leaf(state)).toBe('a3')
    // The second write waits for the first: it cannot reach the server before it.
    expect(calls.map((c) => c.change)).toEqual([{ current_leaf_id: 'a1' }])
    answer(0, { data: null, error: null })
    await first
    await settle()
    expect(calls.map((c) => c.change)).toEqual([{ current_leaf_id: 'a1' }, { current_leaf_id: 'a3' }])
    answer(1, { data: null, error: null })
    await second
    expect(leaf(state)).toBe('a3')
  })

  it('still stores a later flip when an earlier one is refused', async () => {
    const { state, actions } = store()
    const first = actions.flip('a1')
    const second = actions.flip('a3')
    await settle()
    answer(0, { data: null, error: { message: 'refused' } })
    await expect(first).rejects.toMatchObject({ message: 'refused' })
    await settle()
    expect(calls[1]?.change).toEqual({ current_leaf_id: 'a3' })
    answer(1, { data: null, error: null })
    await second
    expect(leaf(state)).toBe('a3')
  })
})
