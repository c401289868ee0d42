/**
 * Reading past PostgREST's cap on rows per response (`max_rows`: 1,000 in supabase/config.toml, and
 * a project may set less, which a client cannot see). Every row is read by keyset (`readAll`): each
 * page is the rows after the last row read, in a unique order no row changes place in (a message's
 * created_at and id; a role's id), so a row deleted or made elsewhere between two pages moves no
 * other row across the read point: none is skipped, none read twice, as an offset did (a deletion
 * made the next page start one row late, a row made before the read point made it read one again).
 * A row made meanwhile after the read point is read; one made before it is not (Realtime brings it).
 *
 * Lists ordered newest first and read a page at a time (chats, an API key's requests, the admin's
 * users) are read by the database's cursors instead (`readAfter`).
 */
export interface Page<T> {
  data: T[] | null
  error: { message: string } | null
  count?: number | null
}

/** `read(after, size, counted)` reads at most `size` rows following the row `after` (null: from the
 *  first) in the list's order, with the exact count when `counted`. */
export type RowsAfter<T> = (after: T | null, size: number, counted: boolean) => PromiseLike<Page<T>>

/** Every row, `size` asked for at a time. The first page asks for the count, so a list that fits in it
 *  takes one request; it also tells the server's cap (a first page shorter than asked while the count
 *  says more is the cap), and a later page shorter than the cap is the last: a page is one statement,
 *  so fewer rows than the cap means none followed it then. */
export async function readAll<T>(read: RowsAfter<T>, size = 1000): Promise<T[]> {
  const rows: T[] = []
  let cap = size
  for (let first = true; ; first = false) {
    const { data, error, count } = await read(rows.at(-1) ?? null, size, first)
    if (error) throw error
    const page = data ?? []
    rows.push(...page)
    if (page.length === 0) return rows
    if (first) {
      if (count != null && page.length >= count) return rows
      cap = Math.min(size, page.length)
    } else if (page.length < cap) return rows
  }
}

/** `shown` and then the rows of a next page it does not hold yet (a row can still move across the
 * cursor while the list is read: a chat unpinned meanwhile moves down and is read again). */
export function appendNew<T extends { id: string }>(shown: T[], page: T[]): T[] {
  const held = new Set(shown.map((row) => row.id))
  return [...shown, ...page.filter((row) => !held.has(row.id))]
}

/** A row of a list read by keyset (`sessions_page`, `api_requests_page`, `users_page`): `page_cursor`
 *  (a computed field, its own per table, selected under this name) is where the row stands in the
 *  list's order. */
export type Placed<T> = T & { page_cursor: string }

/** `read(after, size)` reads `size` rows right after the row whose cursor is `after` (null: from the
 *  top), each a `Placed<T>` (supabase-js types an RPC's rows loosely, so `data` is read as those). */
export type KeysetReader = (after: string | null, size: number) => PromiseLike<{ data: unknown; error: { message: string } | null }>

/** One page of `size` rows after `after`, and the cursor the next page starts after (null: no more
 *  rows). A row made or deleted elsewhere between two pages moves no other row across the cursor, so
 *  the next page neither shows a row again nor skips one, as an offset did. One row more than the
 *  page is asked for, to know whether another page follows. A cursor the list did not give is
 *  refused by the database (InvalidCursor). */
export async function readAfter<T>(read: KeysetReader, after: string | null, size: number): Promise<{ rows: T[]; next: string | null }> {
  const { data, error } = await read(after, size + 1)
  if (error) throw error
  const found = (data as Placed<T>[] | null) ?? []
  const page = found.slice(0, size)
  const rows = page.map(({ page_cursor: _cursor, ...row }) => row as unknown as T)
  return { rows, next: found.length > size ? (page.at(-1)?.page_cursor ?? null) : null }
}
