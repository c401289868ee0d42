/**
 * Reading a conversation longer than one response may hold: PostgREST caps a response at
 * `max_rows` (1,000 in supabase/config.toml, possibly less on another project), so the chat reads
 * page after page until it has the count the first page reported. A fake table stands in for
 * PostgREST, with the same cap and the same count.
 */
import { describe, expect, it } from 'vitest'
import { appendNew, nextPage, PAGE_OVERLAP, readAll, readPage, type Page } from '@/lib/pages'

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

describe('readPage', () => {
  it('reads one page from an offset with the count of all', async () => {
    const { read } = table(450, 1000)
    expect(await readPage(read, 200, 200)).toEqual({ rows: Array.from({ length: 200 }, (_, i) => 200 + i), total: 450 })
    expect((await readPage(read, 400, 200)).rows.length).toBe(50)
  })
})

describe('appendNew', () => {
  it('adds the rows of a next page the list does not hold yet, in order', () => {
    const row = (id: string) => ({ id })
    expect(appendNew([row('a'), row('b')], [row('b'), row('c'), row('d')])).toEqual([row('a'), row('b'), row('c'), row('d')])
    expect(appendNew([], [row('x')])).toEqual([row('x')])
  })
})

describe('nextPage', () => {
  /** A list whose rows can be deleted between two pages, as another tab would. */
  function list(n: number) {
    const rows = Array.from({ length: n }, (_, i) => ({ id: `c${i}` }))
    const read = (from: number, to: number): Promise<Page<{ id: string }>> =>
      Promise.resolve({ data: rows.slice(from, to + 1), error: null, count: rows.length })
    return { rows, read }
  }

  it('shows every row when rows shown are deleted elsewhere between two pages', async () => {
    const { rows, read } = list(450)
    const first = await readPage(read, 0, 200)
    rows.splice(3, 5) // five chats of the first page deleted in another tab
    const { start, size } = nextPage(first.rows.length, 200)
    const next = await readPage(read, start, size)
    const shown = appendNew(first.rows, next.rows).map((r) => r.id)
    // c0..c199 as first shown, then 200 more from c200 (which an offset of 200 would have skipped,
    // with c201..c204): each once, none missing
    expect(shown).toEqual(Array.from({ length: 405 }, (_, i) => `c${i}`))
  })

  it('starts from the top while fewer rows than the overlap are shown, and always adds a page', () => {
    expect(nextPage(PAGE_OVERLAP - 1, 50)).toEqual({ start: 0, size: 50 + PAGE_OVERLAP - 1 })
    expect(nextPage(200, 50)).toEqual({ start: 200 - PAGE_OVERLAP, size: 50 + PAGE_OVERLAP })
  })
})
