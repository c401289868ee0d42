/**
 * Which persona a chat asks with. Only an active role answers: the worker answers a question
 * naming another as the assistant, and the database refuses such a question (RoleNotFound). The
 * roles store holds every role the user reads, switched-off ones too (their own, for the roles
 * page; built-in ones an admin switched off, which admins read), so the choice is made here.
 */
import type { AiRole } from '@/lib/types'

/** The roles a question may name, in the store's order. */
export function usableRoles(roles: readonly AiRole[]): AiRole[] {
  return roles.filter((r) => r.is_active)
}

export interface RoleChoice {
  /** The role the next question names; undefined while there is none to name. */
  role: AiRole | undefined
  /** The chat's own persona when it cannot answer: switched off (the row), or no longer readable ('gone'). */
  unavailable: AiRole | 'gone' | null
}

/**
 * The persona picked on the page, else the chat's, else the one a link names (`?role=`), else the
 * assistant, else the first one there is; of usable roles only. A chat bound to a persona that
 * cannot answer chooses none until another is picked: asking as another persona unasked would
 * change who answers without saying so.
 */
export function chooseRole(
  roles: readonly AiRole[],
  loaded: boolean,
  wanted: { picked: string | null; sessionRoleId: string | null | undefined; querySlug: string | null },
): RoleChoice {
  const usable = usableRoles(roles)
  const byId = (id: string | null | undefined) => (id ? usable.find((r) => r.id === id) : undefined)
  const bySlug = (slug: string | null) => (slug ? usable.find((r) => r.slug === slug) : undefined)
  const picked = byId(wanted.picked)
  if (picked) return { role: picked, unavailable: null }
  if (wanted.sessionRoleId) {
    const own = byId(wanted.sessionRoleId)
    if (own) return { role: own, unavailable: null }
    if (!loaded) return { role: undefined, unavailable: null }
    return { role: undefined, unavailable: roles.find((r) => r.id === wanted.sessionRoleId) ?? 'gone' }
  }
  const role =
    bySlug(wanted.querySlug) ??
    bySlug('assistant') ??
    usable.find((r) => r.created_by === null) ??
    usable[0]
  return { role, unavailable: null }
}
