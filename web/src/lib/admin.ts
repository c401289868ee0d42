/**
 * The admin area's data, straight through Supabase as the admin: RLS policies keyed on the JWT's
 * app_metadata.role give admins every profile, plan and ledger row; changes are recorded in
 * audit.events by triggers, and reads here are recorded with `audit_admin_read`.
 */
import type { Session } from '@supabase/supabase-js'
import { supabase } from './supabase'
import type { RoleTranslations } from './roleText'
import { readAfter } from './pages'

export function isAdmin(session: Session | null): boolean {
  const meta = session?.user.app_metadata as { role?: unknown } | undefined
  return meta?.role === 'admin'
}

export interface AdminUser {
  id: string
  username: string
  email: string | null
  created_at: string
  plan_id: string | null
  disabled: boolean
}

export interface Plan {
  id: string
  name: string
  tokens_per_day: number | null
  tokens_per_month: number | null
  requests_per_minute: number | null
}

export interface BuiltinRole {
  id: string
  slug: string
  name: string
  description: string | null
  system_prompt: string
  is_active: boolean
  /** The name and description per UI language (lib/roleText.ts). */
  translations: RoleTranslations
}

/** A row RLS hid or that is gone, as the API says it (`NotFound`, worded by lib/errors). */
function notFound(): Error {
  return Object.assign(new Error('not found'), { code: 'NotFound' })
}

async function audit(action: string, target: string | null = null, details: Record<string, unknown> = {}): Promise<void> {
  const { error } = await supabase().rpc('audit_admin_read', { action, target, details })
  if (error) throw error
}

/** Users an admin pages through, newest first. */
export const USERS_PAGE = 100

/** A page of `size` users whose name or address contains `query` (all when empty), after the user
 * whose cursor is `after` (null: the newest), and the cursor the next page starts after (null: no
 * more). Read by keyset (`users_page`): a sign-up or a deleted account between two pages neither
 * shows a user twice nor skips one. Each read is audited (`audit_admin_read`). */
export async function searchUsers(query: string, after: string | null = null, size = USERS_PAGE): Promise<{ users: AdminUser[]; next: string | null }> {
  type Row = Omit<AdminUser, 'plan_id' | 'disabled'> & { user_plans: { plan_id: string; disabled: boolean } | { plan_id: string; disabled: boolean }[] | null }
  const term = query.trim()
  const { rows, next } = await readAfter<Row>(
    (from, max) =>
      supabase()
        .rpc('users_page', from ? { q: term, max_rows: max, after: from } : { q: term, max_rows: max })
        .select('id,username,email,created_at,user_plans(plan_id,disabled),page_cursor:user_cursor'),
    after,
    size,
  )
  await audit('list_users', null, { q: term, after })
  const users = rows.map((row) => {
    const plan = Array.isArray(row.user_plans) ? row.user_plans[0] : row.user_plans
    return { id: row.id, username: row.username, email: row.email, created_at: row.created_at, plan_id: plan?.plan_id ?? null, disabled: plan?.disabled ?? false }
  })
  return { users, next }
}

export async function recordUsageView(userId: string): Promise<void> {
  await audit('view_usage', userId)
}

export async function listPlans(): Promise<Plan[]> {
  const { data, error } = await supabase().from('plans').select('id,name,tokens_per_day,tokens_per_month,requests_per_minute').order('sort_order')
  if (error) throw error
  return (data as Plan[] | null) ?? []
}

export async function updateUser(userId: string, patch: { plan_id?: string; disabled?: boolean }): Promise<void> {
  const { data, error } = await supabase().from('user_plans').update(patch).eq('user_id', userId).select('user_id')
  if (error) throw error
  if (!data?.length) throw notFound()
}

export async function listBuiltinRoles(): Promise<BuiltinRole[]> {
  const { data, error } = await supabase()
    .from('ai_roles')
    .select('id,slug,name,description,system_prompt,is_active,translations')
    .is('created_by', null)
    .order('sort_order')
  if (error) throw error
  return (data as BuiltinRole[] | null) ?? []
}

export async function updateBuiltinRole(id: string, patch: Partial<Pick<BuiltinRole, 'name' | 'description' | 'system_prompt' | 'is_active' | 'translations'>>): Promise<void> {
  const { data, error } = await supabase().from('ai_roles').update(patch).eq('id', id).is('created_by', null).select('id')
  if (error) throw error
  if (!data?.length) throw notFound()
}
