/**
 * Built-in personas (created_by null) and the user's private ones, as RLS lets them read: the
 * user's own switched-off ones too (the roles page switches them on again), and for an admin the
 * built-in ones switched off. What a chat may ask with is lib/roleChoice.ts's to say.
 */
import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { storeOnce } from '@/lib/storeOnce'
import { supabase } from '@/lib/supabase'
import { readAll } from '@/lib/pages'
import { slugFor } from '@/lib/rules'
import { usableRoles } from '@/lib/roleChoice'
import type { RoleTranslations } from '@/lib/roleText'
import type { AiRole, Personality } from '@/lib/types'

const COLUMNS = 'id,slug,name,description,system_prompt,avatar_url,sort_order,created_by,created_at,personality,translations,is_active'

/** sort_order, then the oldest first (created_at, id break ties as the database would). */
function inShownOrder(a: AiRole, b: AiRole): number {
  return a.sort_order - b.sort_order || byText(a.created_at, b.created_at) || byText(a.id, b.id)
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

export const useRoles = defineStore('roles', () => {
  const roles = ref<AiRole[]>([])
  const loading = ref(false)
  /** What failed, as thrown: the page words it (lib/errors). */
  const error = ref<unknown>(null)
  const loaded = ref(false)

  /** The built-in personas that answer (an admin also reads those switched off: the admin page lists them). */
  const builtIn = computed(() => roles.value.filter((r) => r.created_by === null && r.is_active))
  /** The user's own, switched off or not. */
  const mine = computed(() => roles.value.filter((r) => r.created_by !== null))
  /** What the picker offers: the roles that answer. */
  const usable = computed(() => usableRoles([...builtIn.value, ...mine.value]))

  async function load(force = false): Promise<void> {
    if (loaded.value && !force) return
    loading.value = true
    error.value = null
    try {
      // Every one, past a response's max_rows (lib/pages.ts): a user may write any number. Read in
      // id order, which no role leaves (its sort order changes when an admin moves it, and then it
      // crossed the read point: read twice or never), and put in the shown order here.
      const read = await readAll<AiRole>((after, size, counted) => {
        let query = supabase().from('ai_roles').select(COLUMNS, counted ? { count: 'exact' } : {})
        if (after) query = query.gt('id', after.id)
        return query.order('id', { ascending: true }).limit(size)
      })
      roles.value = read.sort(inShownOrder)
      loaded.value = true
    } catch (e) {
      error.value = e
    } finally {
      loading.value = false
    }
  }

  function byId(id: string | null | undefined): AiRole | undefined {
    return id ? roles.value.find((r) => r.id === id) : undefined
  }

  function bySlug(slug: string | null | undefined): AiRole | undefined {
    return slug ? roles.value.find((r) => r.slug === slug) : undefined
  }

  async function create(
    userId: string,
    input: { name: string; description: string; system_prompt: string; personality?: Personality; translations?: RoleTranslations },
  ): Promise<AiRole> {
    const id = crypto.randomUUID() // named here, so a create whose response was lost is found, not made twice
    const fields = {
      id,
      slug: slugFor(input.name),
      name: input.name.trim(),
      description: input.description.trim() || null,
      system_prompt: input.system_prompt.trim(),
      sort_order: 100,
      created_by: userId,
      personality: input.personality ?? {},
      translations: input.translations ?? {},
    }
    const { data, error: e } = await storeOnce<AiRole>(
      () => supabase().from('ai_roles').insert(fields).select(COLUMNS).single(),
      () => supabase().from('ai_roles').select(COLUMNS).eq('id', id).maybeSingle(),
    )
    if (e) throw e
    const role = data as AiRole
    roles.value = [...roles.value, role]
    return role
  }

  /** Replace a custom role's translations; null when RLS shows no such role of the user's (deleted, not theirs). */
  async function updateTranslations(id: string, translations: RoleTranslations): Promise<AiRole | null> {
    const { data, error: e } = await supabase().from('ai_roles').update({ translations }).eq('id', id).select(COLUMNS)
    if (e) throw e
    const [role] = (data ?? []) as AiRole[]
    if (!role) return null
    roles.value = roles.value.map((r) => (r.id === id ? role : r))
    return role
  }

  /** Switch one's own role off (it answers nothing, and is kept) or on again; null when RLS shows no such role of the user's. */
  async function setActive(id: string, active: boolean): Promise<AiRole | null> {
    const { data, error: e } = await supabase().from('ai_roles').update({ is_active: active }).eq('id', id).select(COLUMNS)
    if (e) throw e
    const [role] = (data ?? []) as AiRole[]
    if (!role) return null
    roles.value = roles.value.map((r) => (r.id === id ? role : r))
    return role
  }

  async function remove(id: string): Promise<void> {
    const { error: e } = await supabase().from('ai_roles').delete().eq('id', id)
    if (e) throw e
    roles.value = roles.value.filter((r) => r.id !== id)
  }

  function reset(): void {
    roles.value = []
    loaded.value = false
  }

  return { roles, loading, error, loaded, builtIn, mine, usable, load, byId, bySlug, create, updateTranslations, setActive, remove, reset }
})
