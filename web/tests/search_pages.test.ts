/**
 * /history's "More results" reads on from the last hit shown, by its cursor, not from a count of the
 * hits shown: a message written or deleted between two pages moved every later hit by one, so a hit
 * was skipped (a deletion) or shown twice.
 */
import { describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import HistoryView from '@/views/HistoryView.vue'

const calls: Record<string, unknown>[] = []
const pages: unknown[][] = []

vi.mock('@/lib/supabase', () => {
  const titles = { select: () => titles, in: () => Promise.resolve({ data: [], error: null }) }
  return {
    supabase: () => ({
      rpc: (_name: string, args: Record<string, unknown>) => {
        calls.push(args)
        return Promise.resolve({ data: pages.shift() ?? [], error: null })
      },
      from: () => titles,
    }),
  }
})
vi.mock('@/stores/chat', () => ({
  useChat: () => ({ sessions: [], sessionsLoading: false, sessionsError: null, sessionsMore: false, loadSessions: vi.fn() }),
}))
vi.mock('@/stores/roles', () => ({ useRoles: () => ({ load: vi.fn(), byId: () => undefined }) }))
vi.mock('vue-router', () => ({ useRouter: () => ({ push: vi.fn() }) }))
vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn() }, ElMessageBox: { confirm: vi.fn() } }))

const hit = (n: number) => ({
  id: `m${n}`,
  session_id: 's',
  message_type: 'user',
  content: `needle ${n}`,
  role_id: null,
  created_at: '2026-12-01T10:00:00Z',
  rank: 0.1,
  cursor: `c${n}`,
})

describe("/history's more results", () => {
  it('reads on after the last hit shown, by its cursor', async () => {
    pages.push(Array.from({ length: 50 }, (_, i) => hit(i)), [hit(50), hit(51)])
    const view = mount(HistoryView, { global: { plugins: [makeI18n('en')] } })
    await view.find('[data-testid="search-input"]').setValue('needle')
    await view.find('form').trigger('submit')
    await flushPromises()
    await view.find('[data-testid="search-more"]').trigger('click')
    await flushPromises()
    expect(calls).toEqual([
      { query: 'needle', max_results: 50 },
      { query: 'needle', max_results: 50, after: 'c49' },
    ])
    expect(view.findAll('[data-testid="search-hit"]')).toHaveLength(52)
    expect(view.find('[data-testid="search-more"]').exists()).toBe(false)
  })
})
