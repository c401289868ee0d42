/**
 * Plans, usage and API keys, read and written straight through Supabase under RLS: the
 * allowance and daily usage come from SQL functions that run as the caller; keys are created and
 * revoked by functions that return the secret once and keep only its hash.
 */
import { createShownOnce } from './storeOnce'
import { supabase } from './supabase'
import { isFinal, type ChatMessage } from './types'

export interface Period {
  used: number
  limit: number | null
  remaining: number | null
  resets_at: string
}

export interface Allowance {
  user_id: string
  plan: { id: string; name: string; tokens_per_day: number | null; tokens_per_month: number | null; requests_per_minute: number | null; models: string[] | null }
  disabled: boolean
  day: Period
  month: Period
}

export interface UsageDay {
  day: string
  model: string
  tokens: number
  requests: number
  input_tokens: number
  output_tokens: number
}

export interface ApiKey {
  id: string
  name: string
  prefix: string
  expires_at: string | null
  last_used_at: string | null
  revoked_at: string | null
  created_at: string
}

export interface NewKey extends ApiKey {
  key: string
}

/** `target` is another user's id (admins only; RLS answers nothing to anyone else). */
export async function loadUsage(target?: string): Promise<{ allowance: Allowance | null; daily: UsageDay[] }> {
  const args = target ? { target } : {}
  const [allowance, daily] = await Promise.all([
    supabase().rpc('usage_allowance', args),
    supabase().rpc('usage_daily', { days: 30, ...args }),
  ])
  if (allowance.error) throw allowance.error
  if (daily.error) throw daily.error
  return { allowance: (allowance.data as Allowance | null) ?? null, daily: (daily.data as UsageDay[] | null) ?? [] }
}

export interface ChartBar {
  day: string
  total: number
  parts: { model: string; tokens: number }[]
}

/** The last `days` UTC days ending `today`, oldest first, each with its tokens per model. */
export function chartBars(daily: UsageDay[], today: Date, days = 30): { bars: ChartBar[]; models: string[]; max: number } {
  const models = [...new Set(daily.map((d) => d.model))].sort()
  const bars: ChartBar[] = []
  for (let back = days - 1; back >= 0; back--) {
    const date = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - back))
    const day = date.toISOString().slice(0, 10)
    const parts = models.map((model) => ({
      model,
      tokens: daily.filter((d) => d.day === day && d.model === model).reduce((sum, d) => sum + d.tokens, 0),
    }))
    bars.push({ day, total: parts.reduce((sum, p) => sum + p.tokens, 0), parts })
  }
  return { bars, models, max: Math.max(0, ...bars.map((b) => b.total)) }
}

const KEY_COLUMNS = 'id,name,prefix,expires_at,last_used_at,revoked_at,created_at'

export async function listKeys(): Promise<ApiKey[]> {
  const { data, error } = await supabase().from('api_keys').select(KEY_COLUMNS).order('created_at', { ascending: false })
  if (error) throw error
  return (data as ApiKey[] | null) ?? []
}

/** What one key spent over the last `KEY_USAGE_DAYS` days (`usage_by_key`). */
export interface KeyUsage {
  key_id: string
  requests: number
  tokens: number
}
export const KEY_USAGE_DAYS = 30

/** Each key's requests and allowance tokens over the last 30 UTC days, by key id (keys unused then: absent). */
export async function keyUsage(): Promise<Map<string, KeyUsage>> {
  const { data, error } = await supabase().rpc('usage_by_key', { days: KEY_USAGE_DAYS })
  if (error) throw error
  return new Map(((data as KeyUsage[] | null) ?? []).map((u) => [u.key_id, u]))
}

/** A new key, its secret shown once: named here, so an answer lost on the way leaves no live key
 * whose secret nobody has (storeOnce.ts, `createShownOnce`). */
export async function createKey(name: string, expiresAt: string | null): Promise<NewKey> {
  const { data, error } = await createShownOnce(
    (id) => supabase().rpc('create_api_key', { key_name: name, expires_at: expiresAt, key_id: id }),
    (id) => supabase().rpc('revoke_api_key', { key_id: id }),
    () => crypto.randomUUID(),
    { taken: (outcome) => outcome.error?.code === 'KeyIdTaken' },
  )
  if (error) throw error
  return data as NewKey
}

export async function revokeKey(id: string): Promise<void> {
  const { error } = await supabase().rpc('revoke_api_key', { key_id: id })
  if (error) throw error
}

/** One answer's token counts as the worker stored them from the provider's usage. */
export interface AnswerUsage {
  input: number
  output: number
  reasoning: number | null
  cached: number | null
}

/** The stored usage of a final answer row, when it has any (reasoning and cached only when nonzero). */
export function usageOf(row: ChatMessage | undefined): AnswerUsage | null {
  if (!row || !isFinal(row.status) || (row.input_tokens == null && row.output_tokens == null)) return null
  return {
    input: row.input_tokens ?? 0,
    output: row.output_tokens ?? 0,
    reasoning: row.reasoning_tokens || null,
    cached: row.cached_tokens || null,
  }
}

/** A plan's name in the UI's language (i18n `plans.<id>`), else as stored (a plan an admin added). */
export function planName(plan: { id: string; name: string }, t: (key: string) => string, te: (key: string) => boolean): string {
  const key = `plans.${plan.id}`
  return te(key) ? t(key) : plan.name
}
