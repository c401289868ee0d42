/**
 * The requests of an API key's chat of the day: each request through the OpenAI-compatible API is
 * a root question of that chat (its own branch), so a day of many requests is one wide tree whose
 * ‹ n / m › arrows go one by one. This lists them, newest first, a page at a time, to jump to one.
 */
import { readPage } from './pages'
import { supabase } from './supabase'

export interface ApiRequest {
  id: string
  content: string
  created_at: string
  model: string | null
}

export const REQUESTS_PAGE = 20

export async function dayRequests(sessionId: string, offset = 0, size = REQUESTS_PAGE): Promise<{ rows: ApiRequest[]; total: number }> {
  return readPage<ApiRequest>(
    (from, to) =>
      supabase()
        .from('chat_messages')
        .select('id,content,created_at,model', { count: 'exact' })
        .eq('session_id', sessionId)
        .is('parent_id', null)
        .eq('message_type', 'user')
        .order('created_at', { ascending: false })
        .order('id', { ascending: false })
        .range(from, to),
    offset,
    size,
  )
}
