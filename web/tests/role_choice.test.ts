/** Which persona a chat asks with (lib/roleChoice.ts): only one that can answer, and a chat whose persona cannot says so. */
import { describe, expect, it } from 'vitest'
import { makeI18n } from '@/i18n'
import { chooseRole, usableRoles } from '@/lib/roleChoice'
import { errorText } from '@/lib/errors'
import type { AiRole } from '@/lib/types'

function role(id: string, patch: Partial<AiRole> = {}): AiRole {
  return {
    id, slug: id, name: id, description: null, system_prompt: 'p', avatar_url: null, sort_order: 1, created_by: null,
    created_at: '2026-01-01T00:00:00Z', translations: {}, personality: {}, is_active: true, ...patch,
  }
}

const assistant = role('assistant')
const writer = role('writer')
const offBuiltIn = role('retired', { is_active: false }) // an admin reads built-in roles an admin switched off
const pirate = role('pirate', { created_by: 'me' })
const sleeper = role('sleeper', { created_by: 'me', is_active: false })
const all = [assistant, offBuiltIn, writer, pirate, sleeper]
const none = { picked: null, sessionRoleId: null, querySlug: null }

describe('usableRoles', () => {
  it('offers only the roles that answer: no switched-off role, built-in or one\'s own', () => {
    expect(usableRoles(all).map((r) => r.id)).toEqual(['assistant', 'writer', 'pirate'])
  })
})

describe('chooseRole', () => {
  it('takes the picked role, else the chat\'s, else the one the link names, else the assistant', () => {
    expect(chooseRole(all, true, { ...none, picked: 'pirate', sessionRoleId: 'writer' })).toEqual({ role: pirate, unavailable: null })
    expect(chooseRole(all, true, { ...none, sessionRoleId: 'writer', querySlug: 'pirate' })).toEqual({ role: writer, unavailable: null })
    expect(chooseRole(all, true, { ...none, querySlug: 'pirate' })).toEqual({ role: pirate, unavailable: null })
    expect(chooseRole(all, true, none)).toEqual({ role: assistant, unavailable: null })
  })

  it('never chooses a switched-off role, from a pick or a link', () => {
    expect(chooseRole(all, true, { ...none, picked: 'sleeper' }).role).toBe(assistant)
    expect(chooseRole(all, true, { ...none, querySlug: 'sleeper' }).role).toBe(assistant)
    expect(chooseRole(all, true, { ...none, querySlug: 'retired' }).role).toBe(assistant)
  })

  it('says when the chat\'s persona is switched off or gone, and chooses none for it', () => {
    expect(chooseRole(all, true, { ...none, sessionRoleId: 'sleeper' })).toEqual({ role: undefined, unavailable: sleeper })
    expect(chooseRole(all, true, { ...none, sessionRoleId: 'retired' })).toEqual({ role: undefined, unavailable: offBuiltIn })
    // A built-in role switched off is not readable by a user: the chat names a role no longer there.
    expect(chooseRole(all, true, { ...none, sessionRoleId: 'unreadable' })).toEqual({ role: undefined, unavailable: 'gone' })
    // Picking another persona goes on with it.
    expect(chooseRole(all, true, { ...none, picked: 'writer', sessionRoleId: 'sleeper' })).toEqual({ role: writer, unavailable: null })
  })

  it('says nothing before the roles are loaded', () => {
    expect(chooseRole([], false, { ...none, sessionRoleId: 'sleeper' })).toEqual({ role: undefined, unavailable: null })
  })
})

describe('a question naming a role that cannot answer', () => {
  it('is worded in both languages', () => {
    const refused = { code: 'RoleNotFound', message: 'The role sleeper does not exist or is switched off.', details: '{"role_id": "sleeper"}' }
    const zh = makeI18n('zh-CN').global
    const en = makeI18n('en').global
    expect(errorText(refused, en.t)).toBe(en.t('roles.unavailable'))
    expect(errorText(refused, zh.t)).toBe(zh.t('roles.unavailable'))
    expect(en.t('roles.unavailable')).not.toBe(zh.t('roles.unavailable'))
    expect(en.t('roles.unavailable')).not.toBe('roles.unavailable')
  })
})
