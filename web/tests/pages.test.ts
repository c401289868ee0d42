/**
 * Reading a conversation longer than one response may hold: PostgREST caps a response at
 * `max_rows` (1,000 in supabase/config.toml, possibly less on another project), so the chat reads
 * page after page, each after the last row read, until a page comes back shorter than the server's
 * cap (the first page's count tells a list that fits in one). A fake table stands in for PostgREST,
 * with the same cap and the same count.
 */
import { describe, expect, it } from 'vitest'
import { appendNew, readAll, type Page } from '@/lib/pages'

/** Rows 0..n-1 behind a reader that returns at most `cap` of the rows asked for, those after `after`. */
function table(n: number, cap: number, { counts = true } = {}) {
  const rows = Array.from({ length: n }, (_, i) => i)
  const asked: [number | null, number, boolean][] = []
  const read = (after: number | null, size: number, counted: boolean): Promise<Page<number>> => {
    asked.push([after, size, counted])
    const data = rows.filter((row) => after === null || row > after).slice(0, Math.min(size, cap))
    return Promise.resolve({ data, error: null, count: counted && counts ? rows.length : null })
  }
  return { read, asked, rows }
}

describe('readAll', () => {
  it('reads every row of a conversation past one response, in order, counting once', async () => {
    const { read, asked } = table(2500, 1000)
    expect(await readAll(read)).toEqual(Array.from({ length: 2500 }, (_, i) => i))
    expect(asked).toEqual([
      [null, 1000, true],
      [999, 1000, false],
      [1999, 1000, false],
    ])
  })

  it('keeps reading when the server caps a response below the size asked for, and stops at its short page', async () => {
    const { read, asked } = table(1200, 500)
    expect((await readAll(read)).length).toBe(1200)
    expect(asked.map(([after]) => after)).toEqual([null, 499, 999])
  })

  it('reads a short conversation in one request, and an empty one too', async () => {
    const short = table(3, 1000)
    expect(await readAll(short.read)).toEqual([0, 1, 2])
    expect(short.asked.length).toBe(1)
    const empty = table(0, 1000)
    expect(await readAll(empty.read)).toEqual([])
    expect(empty.asked.length).toBe(1)
  })

  it('without a count, reads until a page comes back short or empty', async () => {
    const { read, asked } = table(1500, 1000, { counts: false })
    expect((await readAll(read)).length).toBe(1500)
    expect(asked.map(([after]) => after)).toEqual([null, 999])
    const exact = table(2000, 1000, { counts: false })
    expect((await readAll(exact.read)).length).toBe(2000)
    expect(exact.asked.map(([after]) => after)).toEqual([null, 999, 1999])
  })

  it('reads on after the last row read whatever was deleted or made meanwhile, each row once', async () => {
    const { read, rows } = table(2500, 1000)
    let made = 0
    const meanwhile = (after: number | null, size: number, counted: boolean) => {
      if (after !== null) rows.splice(0, 10, (made -= 1)) // ten rows already read deleted, one made before the read point
      return read(after, size, counted)
    }
    expect(await readAll(meanwhile)).toEqual(Array.from({ length: 2500 }, (_, i) => i))
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
