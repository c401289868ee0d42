/**
 * Reading past PostgREST's cap on rows per response (`max_rows`: 1,000 in supabase/config.toml, and
 * a project may set less, which a client cannot see). The first page asks for the exact count;
 * pages are then read by offset, in an order that new rows extend at the end, until the rows read
 * reach that count or a page comes back empty. A row added meanwhile comes last or not at all
 * (Realtime brings it), never twice.
 *
 * Lists ordered newest first (chats, an API key's requests, the admin's users), where a row made
 * or deleted elsewhere moves every later one, are read by keyset instead (`readAfter`).
 */
export interface Page<T> {
  data: T[] | null
  error: { message: string } | null
  count?: number | null
}

/** `read(from, to, counted)` reads rows from..to (inclusive), with the exact count when `counted`. */
export type PageReader<T> = (from: number, to: number, counted: boolean) => PromiseLike<Page<T>>

/** Every row, `size` asked for at a time. */
export async function readAll<T>(read: PageReader<T>, size = 1000): Promise<T[]> {
  const rows: T[] = []
  let total: number | null = null
  for (;;) {
    const { data, error, count } = await read(rows.length, rows.length + size - 1, rows.length === 0)
    if (error) throw error
    if (rows.length === 0) total = count ?? null
    const page = data ?? []
    rows.push(...page)
    if (page.length === 0 || (total !== null && rows.length >= total)) return rows
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
