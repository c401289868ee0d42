/**
 * The admin's user list shows the list asked last: a search, a newer search and a "more" of the
 * list shown overlap, and whichever landed last used to be shown, its cursor too, so a "more" of
 * everyone landing after a search appended everyone's next page under the search's words (the
 * long-history journey, clicking "more" before its search had landed, saw 100 of its 130 users),
 * and "more" read the words in the field, sent or not. A fake `@/lib/admin` holds each read until
 * released.
 */
import { describe, expect, it, vi } from 'vitest'
import { flushPromises, mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import type { AdminUser } from '@/lib/admin'

type Page = { users: AdminUser[]; next: string | null }
const held: { query: string; after: string | null; land: (page: Page) => void }[] = []

vi.mock('@/lib/admin', () => ({
  searchUsers: (query: string, after: string | null = null) =>
    new Promise<Page>((land) => held.push({ query, after, land })),
  listPlans: () => Promise.resolve([]),
  listBuiltinRoles: () => Promise.resolve([]),
  recordUsageView: () => Promise.resolve(),
  updateBuiltinRole: () => Promise.resolve(),
  updateUser: () => Promise.resolve(),
}))

vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn(), success: vi.fn() } }))

const { default: AdminView } = await import('@/views/AdminView.vue')

function user(name: string): AdminUser {
  return { id: name, username: name, email: `${name}@example.com`, created_at: '2026-01-01T00:00:00Z', disabled: false, plan_id: null } as unknown as AdminUser
}

function shown(wrapper: ReturnType<typeof mount>): string[] {
  return wrapper.findAll('[data-testid="admin-user"]').map((row) => row.text())
}

/** The page mounted and its first read (everyone) landed: `a1`, more after `a1`. */
async function listed() {
  held.length = 0
  const wrapper = mount(AdminView, { global: { plugins: [makeI18n('en')] } })
  await flushPromises()
  held[0]!.land({ users: [user('a1')], next: 'a1' })
  await flushPromises()
  return wrapper
}

async function searchFor(wrapper: ReturnType<typeof mount>, words: string) {
  await wrapper.find('[data-testid="admin-search"]').setValue(words)
  await wrapper.find('form').trigger('submit')
  await flushPromises()
}

describe("the admin's user list", () => {
  it('drops a "more" of the list shown that lands after the search sent beside it', async () => {
    const wrapper = await listed()
    await searchFor(wrapper, 'crowd')
    await wrapper.find('[data-testid="admin-users-more"]').trigger('click')
    await flushPromises()
    expect(held.map((read) => [read.query, read.after])).toEqual([['', null], ['crowd', null], ['', 'a1']])
    held[1]!.land({ users: [user('crowd_1')], next: 'c1' })
    await flushPromises()
    held[2]!.land({ users: [user('a2')], next: null })
    await flushPromises()
    expect(shown(wrapper)).toEqual([expect.stringContaining('crowd_1')])
    await wrapper.find('[data-testid="admin-users-more"]').trigger('click')
    await flushPromises()
    expect(held[3]).toMatchObject({ query: 'crowd', after: 'c1' })
  })

  it('drops a "more" that lands after a newer search', async () => {
    const wrapper = await listed()
    await wrapper.find('[data-testid="admin-users-more"]').trigger('click')
    await searchFor(wrapper, 'b')
    expect(held.map((read) => [read.query, read.after])).toEqual([['', null], ['', 'a1'], ['b', null]])
    held[2]!.land({ users: [user('b1')], next: null })
    await flushPromises()
    held[1]!.land({ users: [user('a2')], next: null })
    await flushPromises()
    expect(shown(wrapper)).toEqual([expect.stringContaining('b1')])
  })

  it('drops a search that lands after a newer one', async () => {
    const wrapper = await listed()
    await searchFor(wrapper, 'first')
    await searchFor(wrapper, 'second')
    held[2]!.land({ users: [user('second_1')], next: 's1' })
    await flushPromises()
    held[1]!.land({ users: [user('first_1')], next: 'f1' })
    await flushPromises()
    expect(shown(wrapper)).toEqual([expect.stringContaining('second_1')])
    await wrapper.find('[data-testid="admin-users-more"]').trigger('click')
    expect(held[3]).toMatchObject({ query: 'second', after: 's1' })
  })

  it('reads "more" of the words of the list shown, not words typed and not sent', async () => {
    const wrapper = await listed()
    await wrapper.find('[data-testid="admin-search"]').setValue('typed')
    await wrapper.find('[data-testid="admin-users-more"]').trigger('click')
    expect(held[1]).toMatchObject({ query: '', after: 'a1' })
    held[1]!.land({ users: [user('a2')], next: null })
    await flushPromises()
    expect(shown(wrapper).length).toBe(2)
  })
})
