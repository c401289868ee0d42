/**
 * A stand-in for supabase-js's PostgREST query builder whose every call chains and whose answer
 * waits until the test gives it: each read awaited pushes its resolver on `pending`, in the order
 * the reads were made. A test file mocks `@/lib/supabase` with `{ supabase: () => ({ from: heldQuery }) }`.
 */
import type { ChatMessage } from '@/lib/types'

export type Answer = { data: ChatMessage[]; error: null; count: number }
export const pending: ((answer: Answer) => void)[] = []

export function heldQuery(): unknown {
  const builder: Record<string, unknown> = {}
  for (const name of ['select', 'eq', 'gte', 'or', 'order', 'limit', 'in']) builder[name] = () => builder
  builder.then = (resolve: (answer: Answer) => unknown, reject: (e: unknown) => unknown) =>
    new Promise<Answer>((answer) => pending.push(answer)).then(resolve, reject)
  builder.maybeSingle = () => Promise.resolve({ data: null, error: null })
  return builder
}
