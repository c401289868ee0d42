/**
 * The requests of an API key's chat of the day: each request through the OpenAI-compatible API is
 * a root question of that chat (its own branch), so a day of many requests is one wide tree whose
 * ‹ n / m › arrows go one by one. This lists them, newest first, a page at a time, to jump to one.
 */
import { readAfter } from './pages'
import { supabase } from './supabase'

export interface ApiRequest {
  id: string
  content: string
  created_at: string
  model: string | null
}

export const REQUESTS_PAGE = 20

/** `size` requests after the one whose cursor is `after` (null: the newest), and the cursor the next
 *  page starts after (null: none older). Read by keyset (`api_requests_page`), as the key writes the
 *  day's chat all day long: a request made meanwhile does not show an older one twice, nor does a
 *  deleted one make a request be skipped. */
export async function dayRequests(sessionId: string, after: string | null = null, size = REQUESTS_PAGE): Promise<{ rows: ApiRequest[]; next: string | null }> {
  return readAfter<ApiRequest>(
    (from, max) =>
      supabase()
        .rpc('api_requests_page', from ? { session: sessionId, max_rows: max, after: from } : { session: sessionId, max_rows: max })
        .select('id,content,created_at,model,page_cursor:request_cursor'),
    after,
    size,
  )
}

/** How many requests the day's chat holds (its root questions). */
export async function countRequests(sessionId: string): Promise<number> {
  const { count, error } = await supabase()
    .from('chat_messages')
    .select('id', { count: 'exact', head: true })
    .eq('session_id', sessionId)
    .is('parent_id', null)
    .eq('message_type', 'user')
  if (error) throw error
  return count ?? 0
}
