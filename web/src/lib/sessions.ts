/** Pure helpers for the session list: the columns read and the sidebar's order. */
import type { ChatSession } from './types'

export const SESSION_COLUMNS =
  'id,role_id,title,message_count,last_message_at,archived_at,model,thinking,current_leaf_id,branched,pinned_at,created_at,api_day'

/** Pinned first (most recently pinned on top), then by last activity. */
export function sessionOrder(a: ChatSession, b: ChatSession): number {
  return (
    (b.pinned_at ?? '').localeCompare(a.pinned_at ?? '') ||
    (b.last_message_at ?? b.created_at).localeCompare(a.last_message_at ?? a.created_at)
  )
}
