/**
 * The session list: reading it, keeping it in order, and the owner's changes to a session (create,
 * role, pin, rename, delete, the stored leaf). Each change is written through supabase-js first
 * (RLS lets only the owner) and mirrored in the list only when the write succeeded.
 *
 * The leaf is the exception: it moves here first (send, flip, regenerate) and is written after, so
 * a session row read meanwhile may carry the leaf from before the choice. Reads and confirmed
 * writes are stamped from one counter; a row read before the choice was confirmed stored keeps the
 * local leaf, a row read after it reflects the choice or a later one (another tab's) and wins.
 *
 * Changes heard from the user's other tabs (chat/userChannel.ts) go through `heard`: applied at
 * once, and again after each read of the list in flight then lands (that read may have been taken
 * before the change). Of two reads from the top, the later one stands: an earlier one answering
 * after it is dropped.
 */
import { storeOnce } from '@/lib/storeOnce'
import { supabase } from '@/lib/supabase'
import { appendNew, readAfter, type KeysetReader } from '@/lib/pages'
import { SESSION_COLUMNS, sessionOrder } from '@/lib/sessions'
import type { ChatSession } from '@/lib/types'
import type { ChatState } from './state'

/** Sessions per page of the list (the sidebar and /history); older ones come with "more". */
const SESSION_PAGE = 200

export function sessionList(state: ChatState) {
  const { sessions } = state
  /** Where the rows read of the server's order end (`page_cursor` of the last one): the next page
   * starts right after it, wherever sessions were made or deleted meanwhile, here or elsewhere. */
  let after: string | null = null
  /** Stamps for reads and confirmed leaf writes, in the order this page made them. */
  let clock = 0
  /** Per session, the leaf chosen here and when its write was confirmed (null: not yet). */
  const chosen = new Map<string, { leaf: string; storedAt: number | null }>()
  /** Pages of the list read so far (a read again from the top reads as many). */
  let pages = 0
  /** The stamp of the read from the top whose rows the list shows: an older one landing later is dropped. */
  let shownRead = 0
  /** Reads of the list in flight, and the changes heard meanwhile, to apply again over each as it lands. */
  let reading = 0
  let missed: (() => void)[] = []

  /** A session row as read at stamp `issued`, with the local leaf kept over an older one. */
  function fromServer(row: ChatSession, issued: number): ChatSession {
    const choice = chosen.get(row.id)
    if (!choice) return row
    if (choice.storedAt !== null && issued > choice.storedAt) {
      chosen.delete(row.id)
      return row
    }
    return { ...row, current_leaf_id: choice.leaf }
  }

  function sort(): void {
    sessions.value.sort(sessionOrder)
  }

  function patch(id: string, change: Partial<ChatSession>): void {
    sessions.value = sessions.value.map((s) => (s.id === id ? { ...s, ...change } : s))
  }

  /** Put a freshly read row on top of the list, replacing the old copy. */
  function put(row: ChatSession): void {
    sessions.value = [row, ...sessions.value.filter((s) => s.id !== row.id)]
    sort()
  }

  /** The list in the server's order (pinned, then by last activity), `size` rows after `from`. */
  const listed: KeysetReader = (from, size) =>
    supabase()
      .rpc('sessions_page', from ? { max_rows: size, after: from } : { max_rows: size })
      .select(`${SESSION_COLUMNS},page_cursor`)

  /** A read of the list (`top`: from the top, in place of its rows): `apply` shows what `take` read,
   * unless a read from the top issued later already landed, and then what was heard meanwhile. */
  async function read<T>(top: boolean, take: (issued: number) => Promise<T>, apply: (result: T) => void): Promise<void> {
    const issued = ++clock
    reading++
    try {
      const result = await take(issued)
      if (top && issued < shownRead) return
      if (top) shownRead = issued
      apply(result)
      for (const change of missed) change()
    } finally {
      if (--reading === 0) missed = []
    }
  }

  /** The rows read from the top, in place of the list's (and of an error a failed read left shown);
   * an open chat of an older page stays. */
  function showTop(fresh: ChatSession[], next: string | null, read: number): void {
    const open = sessions.value.find((s) => s.id === state.currentId.value)
    const keep = open && next !== null && !fresh.some((s) => s.id === open.id) ? [open] : []
    sessions.value = [...fresh, ...keep]
    after = next
    pages = read
    state.sessionsMore.value = next !== null
    state.sessionsError.value = null
    sort()
  }

  /** The first page of the list (`more`: older ones follow), or, `more`, the next page after the
   * rows read so far; a row already in the list (made or opened here meanwhile) is not added twice. */
  async function loadSessions(more = false): Promise<void> {
    state.sessionsLoading.value = true
    state.sessionsError.value = null
    try {
      await read(
        !more,
        async (issued) => {
          const { rows, next } = await readAfter<ChatSession>(listed, more ? after : null, SESSION_PAGE)
          return { fresh: rows.map((row) => fromServer(row, issued)), next }
        },
        ({ fresh, next }) => {
          if (!more) return showTop(fresh, next, 1)
          sessions.value = appendNew(sessions.value, fresh)
          after = next
          pages++
          state.sessionsMore.value = next !== null
          sort()
        },
      )
    } catch (e) {
      state.sessionsError.value = e
    } finally {
      state.sessionsLoading.value = false
    }
  }

  /** The list read again from the top, as many pages as were read (at least one), in the background:
   * what changed while the user's channel was away, or more chats made at once than it carries. */
  async function refresh(): Promise<void> {
    const size = Math.max(pages, 1)
    await read(
      true,
      async (issued) => {
        let fresh: ChatSession[] = []
        let next: string | null = null
        for (let page = 0; page < size && (page === 0 || next !== null); page++) {
          const got: { rows: ChatSession[]; next: string | null } = await readAfter<ChatSession>(listed, next, SESSION_PAGE)
          fresh = appendNew(fresh, got.rows.map((row: ChatSession) => fromServer(row, issued)))
          next = got.next
        }
        return { fresh, next }
      },
      ({ fresh, next }) => showTop(fresh, next, size),
    )
  }

  /** A change heard from the user's other tabs: applied now, and again over each read in flight as it lands. */
  function heard(change: () => void): void {
    change()
    if (reading > 0) missed.push(change)
  }

  /** Chats made elsewhere, as broadcast: each one not listed yet joins the list in its order, unless
   * it sorts past the pages read (the next page reads it there). */
  function addSessions(rows: ChatSession[]): void {
    const held = new Set(sessions.value.map((s) => s.id))
    const last = sessions.value.at(-1)
    const fresh = rows.filter((row) => !held.has(row.id) && (!state.sessionsMore.value || !last || sessionOrder(row, last) < 0))
    if (fresh.length === 0) return
    sessions.value = [...sessions.value, ...fresh]
    sort()
  }

  /** Chats deleted elsewhere, off the list. */
  function dropSessions(ids: string[]): void {
    const gone = new Set(ids)
    sessions.value = sessions.value.filter((s) => !gone.has(s.id))
  }

  /** The session's row as stored, or null when RLS hides it (someone else's, or deleted). */
  async function readSession(id: string): Promise<ChatSession | null> {
    const issued = ++clock
    const { data, error } = await supabase().from('chat_sessions').select(SESSION_COLUMNS).eq('id', id).maybeSingle()
    if (error) throw error
    return data ? fromServer(data as ChatSession, issued) : null
  }

  async function refreshSession(id: string): Promise<void> {
    const issued = ++clock
    const { data } = await supabase().from('chat_sessions').select(SESSION_COLUMNS).eq('id', id).maybeSingle()
    if (data) put(fromServer(data as ChatSession, issued))
  }

  /** A change heard on Realtime. The leaf moves locally first (send, flip, regenerate); a stale echo must not move it back. */
  function mergeSession(row: Partial<ChatSession> & { id: string }): void {
    if (!sessions.value.some((s) => s.id === row.id)) return
    const { current_leaf_id: _leaf, ...rest } = row
    patch(row.id, rest)
    sort()
  }

  /** Show the path to `leaf` now; the caller writes it and then says `leafStored` or `leafRefused`. */
  function setLeaf(sessionId: string, leaf: string): void {
    chosen.set(sessionId, { leaf, storedAt: null })
    patch(sessionId, { current_leaf_id: leaf })
  }

  /** The server has `leaf` (unless a later choice here replaced it): reads from now on may settle it. */
  function leafStored(sessionId: string, leaf: string): void {
    const choice = chosen.get(sessionId)
    if (choice?.leaf === leaf) choice.storedAt = ++clock
  }

  /** The write of `leaf` failed: the server's leaf applies again from the next read. */
  function leafRefused(sessionId: string, leaf: string): void {
    if (chosen.get(sessionId)?.leaf === leaf) chosen.delete(sessionId)
  }

  /** A new session; untitled, so the worker titles it after the first answer in its language. Named
   * here, so a create whose response was lost is found rather than made twice (lib/storeOnce.ts). */
  async function createSession(roleId: string | null): Promise<ChatSession> {
    const id = crypto.randomUUID()
    const fields = { id, role_id: roleId, model: state.draftModel.value, thinking: state.draftThinking.value }
    const { data, error } = await storeOnce<ChatSession>(
      () => supabase().from('chat_sessions').insert(fields).select(SESSION_COLUMNS).single(),
      () => supabase().from('chat_sessions').select(SESSION_COLUMNS).eq('id', id).maybeSingle(),
    )
    if (error) throw error
    const row = data as ChatSession
    // Its `sessions_created` broadcast may have listed it already (it can arrive before this answer).
    put(row)
    return row
  }

  async function update(id: string, change: Partial<ChatSession>): Promise<void> {
    const { error } = await supabase().from('chat_sessions').update(change).eq('id', id)
    if (error) throw error
    patch(id, change)
  }

  async function setRole(roleId: string): Promise<void> {
    const id = state.currentId.value
    if (id) await update(id, { role_id: roleId })
  }

  /** Pin or unpin; pinning an archived chat brings it back, as the database does in the same update. */
  async function setPinned(id: string, pinned: boolean): Promise<void> {
    await update(id, { pinned_at: pinned ? new Date().toISOString() : null })
    if (pinned) patch(id, { archived_at: null })
    sort()
  }

  async function rename(id: string, title: string): Promise<void> {
    await update(id, { title: title.trim().slice(0, 200) || null })
  }

  /** Delete a session (its messages go with it); the caller closes it if it was open. */
  async function remove(id: string): Promise<void> {
    const { error } = await supabase().from('chat_sessions').delete().eq('id', id)
    if (error) throw error
    sessions.value = sessions.value.filter((s) => s.id !== id)
  }

  return {
    loadSessions, refresh, heard, addSessions, dropSessions, readSession, refreshSession, put, mergeSession, setLeaf, leafStored, leafRefused, createSession, update, setRole, setPinned, rename, remove,
  }
}

export type SessionList = ReturnType<typeof sessionList>
