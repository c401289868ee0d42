/**
 * Branching a chat twice from the same answer while the first is on its way (a double click) makes
 * one copy: the second call is the first one's branch, not a second `chat_branch` under a new name.
 */
import { describe, expect, it, vi } from 'vitest'

const branchCalls: Array<{ args: Record<string, unknown>; resolve: (value: unknown) => void }> = []

vi.mock('@/lib/supabase', () => ({
  supabase: () => ({
    rpc: (_name: string, args: Record<string, unknown>) => new Promise((resolve) => branchCalls.push({ args, resolve })),
    from: () => ({ select: () => ({ eq: () => ({ maybeSingle: async () => ({ data: null, error: null }) }) }) }),
  }),
}))

const { chatState } = await import('@/stores/chat/state')
const { sessionList } = await import('@/stores/chat/sessions')
const { turnActions } = await import('@/stores/chat/turns')

describe('branch', () => {
  it('makes one copy when asked twice while the first is in flight, and says which answer is branching', async () => {
    const state = chatState()
    const none = {} as never
    const actions = turnActions(state, sessionList(state), none, none, none)
    const first = actions.branch('a1')
    const second = actions.branch('a1')
    expect(state.branching.value.has('a1')).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(branchCalls).toHaveLength(1)
    branchCalls[0]!.resolve({ data: 'copy-1', error: null, status: 200 })
    expect(await first).toBe('copy-1')
    expect(await second).toBe('copy-1')
    expect(state.branching.value.has('a1')).toBe(false)
    // Once made, another branch from the same answer is a new chat, as the reader asked.
    const again = actions.branch('a1')
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(branchCalls).toHaveLength(2)
    expect(branchCalls[1]!.args.session).not.toBe(branchCalls[0]!.args.session)
    branchCalls[1]!.resolve({ data: 'copy-2', error: null, status: 200 })
    expect(await again).toBe('copy-2')
  })
})
