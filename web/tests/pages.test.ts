/**
 * Reading a conversation longer than one response may hold: PostgREST caps a response at
 * `max_rows` (1,000 in supabase/config.toml, possibly less on another project), so the chat reads
 * page after page until it has the count the first page reported. A fake table stands in for
 * PostgREST, with the same cap and the same count.
 */
import { describe, expect, it } from 'vitest'
import { appendNew, readAll, type Page } from '@/lib/pages'

/** Rows 0..n-1 behind a reader that returns at most `cap` of the rows asked for. */
function table(n: number, cap: number, { counts = true } = {}) {
  const rows = Array.from({ length: n }, (_, i) => i)
  const asked: [number, number, boolean][] = []
  const read = (from: number, to: number, counted: boolean): Promise<Page<number>> => {
    asked.push([from, to, counted])
    const data = rows.slice(from, Math.min(to + 1, from + cap))
    return Promise.resolve({ data, error: null, count: counted && counts ? n : null })
  }
  return { read, asked }
}

describe('readAll', () => {
  it('reads every row of a conversation past one response, in order, counting once', async () => {
    const { read, asked } = table(2500, 1000)
    expect(await readAll(read)).toEqual(Array.from({ length: 2500 }, (_, i) => i))
    expect(asked).toEqual([
      [0, 999, true],
      [1000, 1999, false],
      [2000, 2999, false],
    ])
  })

  it('keeps reading when the server caps a response below the size asked for', async () => {
    const { read, asked } = table(1200, 500)
    expect((await readAll(read)).length).toBe(1200)
    expect(asked.map(([from]) => from)).toEqual([0, 500, 1000])
  })

  it('reads a short conversation in one request, and an empty one too', async () => {
    const short = table(3, 1000)
    expect(await readAll(short.read)).toEqual([0, 1, 2])
    expect(short.asked.length).toBe(1)
    const empty = table(0, 1000)
    expect(await readAll(empty.read)).toEqual([])
    expect(empty.asked.length).toBe(1)
  })

  it('without a count, reads until a page comes back empty', async () => {
    const { read, asked } = table(1500, 1000, { counts: false })
    expect((await readAll(read)).length).toBe(1500)
    expect(asked.map(([from]) => from)).toEqual([0, 1000, 1500])
  })

  it('throws the first refusal', async () => {
    const refused = () => Promise.resolve({ data: null, error: { message: 'permission denied' }, count: null })
    await expect(readAll(refused)).rejects.toMatchObject({ message: 'permission denied' })
  })
})

describe('appendNew', () => {
  it('adds the rows of a next page the list does not hold yet, in order', () => {
    const row = (id: string) => ({ id })
    expect(appendNew([row('a'), row('b')], [row('b'), row('c'), row('d')])).toEqual([row('a'), row('b'), row('c'), row('d')])
    expect(appendNew([], [row('x')])).toEqual([row('x')])
  })
})
