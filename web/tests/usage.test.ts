import { describe, expect, it } from 'vitest'
import { chartBars, usageOf, type UsageDay } from '@/lib/usage'
import type { ChatMessage } from '@/lib/types'
import { describeError } from '@/lib/errors'
import { isAdmin } from '@/lib/admin'
import type { Session } from '@supabase/supabase-js'

const day = (d: string, model: string, tokens: number): UsageDay => ({ day: d, model, tokens, requests: 1, input_tokens: 0, output_tokens: 0 })

describe('chartBars', () => {
  it('lays out 30 UTC days ending today, oldest first, with every model in each bar', () => {
    const today = new Date(Date.UTC(2026, 11, 1, 23, 30))
    const { bars, models, max } = chartBars(
      [day('2026-12-01', 'qwen-plus', 40), day('2026-12-01', 'qwen-turbo', 10), day('2026-11-02', 'qwen-turbo', 7), day('2026-10-01', 'qwen-max', 99)],
      today,
    )
    expect(bars).toHaveLength(30)
    expect(bars[0]?.day).toBe('2026-11-02')
    expect(bars[29]?.day).toBe('2026-12-01')
    expect(models).toEqual(['qwen-max', 'qwen-plus', 'qwen-turbo'])
    expect(bars[29]?.total).toBe(50)
    expect(bars[0]?.parts).toEqual([
      { model: 'qwen-max', tokens: 0 },
      { model: 'qwen-plus', tokens: 0 },
      { model: 'qwen-turbo', tokens: 7 },
    ])
    expect(max).toBe(50)
  })

  it('is empty but complete without usage', () => {
    const { bars, models, max } = chartBars([], new Date(Date.UTC(2026, 0, 15)))
    expect(bars.map((b) => b.total)).toEqual(Array(30).fill(0))
    expect(models).toEqual([])
    expect(max).toBe(0)
  })
})

describe('plan refusals and admin', () => {
  it('maps the database refusals to messages', () => {
    expect(describeError({ code: 'QuotaExceeded', message: 'Your daily token allowance is used up.' }).key).toBe('usage.quotaExceeded')
    expect(describeError({ code: 'AccountDisabled', message: 'x' }).key).toBe('usage.accountDisabled')
  })

  it('reads the admin role from app_metadata only', () => {
    const session = (app: object, user: object) => ({ user: { app_metadata: app, user_metadata: user } }) as unknown as Session
    expect(isAdmin(session({ role: 'admin' }, {}))).toBe(true)
    expect(isAdmin(session({}, { role: 'admin' }))).toBe(false)
    expect(isAdmin(null)).toBe(false)
  })
})

describe('usageOf', () => {
  const row = (over: Partial<ChatMessage>): ChatMessage =>
    ({ status: 'completed', input_tokens: 12, output_tokens: 30, reasoning_tokens: 0, cached_tokens: null, ...over }) as ChatMessage

  it("gives a final answer's stored counts, reasoning and cached only when there are some", () => {
    expect(usageOf(row({}))).toEqual({ input: 12, output: 30, reasoning: null, cached: null })
    expect(usageOf(row({ reasoning_tokens: 8, cached_tokens: 5 }))).toEqual({ input: 12, output: 30, reasoning: 8, cached: 5 })
  })

  it('gives nothing while the answer is open or when the provider reported no usage', () => {
    expect(usageOf(row({ status: 'streaming' }))).toBeNull()
    expect(usageOf(row({ input_tokens: null, output_tokens: null }))).toBeNull()
    expect(usageOf(undefined)).toBeNull()
  })
})
