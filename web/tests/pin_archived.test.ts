/**
 * Pinning an archived chat brings it back (the database unarchives it in the pin's own update,
 * 20261205164800): the sidebar shows it at once, not only after the list is read again.
 */
import { describe, expect, it, vi } from 'vitest'
import type { ChatSession } from '@/lib/types'

const updates: Record<string, unknown>[] = []

vi.mock('@/lib/supabase', () => ({
  supabase: () => ({
    from: () => ({
      update: (change: Record<string, unknown>) => ({
        eq: () => {
          updates.push(change)
          return Promise.resolve({ data: null, error: null })
        },
      }),
    }),
  }),
}))

const { chatState } = await import('@/stores/chat/state')
const { sessionList } = await import('@/stores/chat/sessions')

describe('setPinned', () => {
  it('shows a pinned archived chat in the sidebar again, and only pins', async () => {
    const state = chatState()
    const list = sessionList(state)
    const archived: ChatSession = {
      id: 's1', role_id: null, title: 'old', message_count: 2, last_message_at: '2026-01-01T00:00:00Z',
      archived_at: '2026-04-01T00:00:00Z', model: null, thinking: null, current_leaf_id: null, branched: false,
      pinned_at: null, created_at: '2026-01-01T00:00:00Z',
    }
    list.put(archived)
    expect(state.recent.value.map((s) => s.id)).toEqual([])

    await list.setPinned('s1', true)

    expect(updates).toEqual([{ pinned_at: expect.any(String) }])
    expect(state.recent.value.map((s) => s.id)).toEqual(['s1'])
    expect(state.sessions.value[0]?.archived_at).toBeNull()
  })
})
