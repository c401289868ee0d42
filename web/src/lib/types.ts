/** Rows as the SPA reads them through PostgREST (migrations/ is the source of truth). */
import type { RoleTranslations } from './roleText'

export type MessageType = 'user' | 'assistant' | 'system'
export type MessageStatus = 'pending' | 'streaming' | 'completed' | 'error' | 'cancelled'

export interface Profile {
  id: string
  username: string
  email: string | null
  avatar_url: string | null
  last_login_at: string | null
  created_at: string
}

export interface AiRole {
  id: string
  slug: string
  name: string
  description: string | null
  system_prompt: string
  avatar_url: string | null
  sort_order: number
  created_by: string | null
  created_at: string
  /** Off: the role answers nothing (the picker leaves it out, the database refuses a question naming it); its owner may switch it on again. */
  is_active: boolean
  /** The name and description per UI language (lib/roleText.ts); a missing text falls back to the stored one. */
  translations: RoleTranslations
  /** Generation settings the worker honours (checked by the database: ai_roles_check_personality). */
  personality: Personality
}

export interface Personality {
  model?: string
  temperature?: number
  top_p?: number
  max_tokens?: number
  thinking?: boolean
}

export interface ChatSession {
  id: string
  role_id: string | null
  title: string | null
  message_count: number
  last_message_at: string | null
  /** Set by the operators' lifecycle job: hidden from the sidebar, still in history; a new question revives it. */
  archived_at: string | null
  /** The chosen model and thinking switch; null = the role's default, else the deployment's. */
  model: string | null
  thinking: boolean | null
  /** The message the user last looked at: the conversation is the path to it (lib/tree.ts). */
  current_leaf_id: string | null
  /** Set once the user edits a question or regenerates an answer. */
  branched: boolean
  /** Pinned sessions come first in the sidebar. */
  pinned_at: string | null
  /** The UTC day of an API key's OpenAI-compatible requests this session holds (null: a chat of the web app). */
  api_day?: string | null
  created_at: string
}

/** A model the product offers (`public.models`). */
export interface ModelInfo {
  id: string
  display_name: string
  description: string | null
  context_window: number
  max_output: number
  supports_thinking: boolean
  supports_vision: boolean
  supports_search: boolean
  supports_documents: boolean
}

/** A web search result an answer cites as `[index]`. */
export interface Source {
  index: number
  title: string
  url: string
  site_name?: string
}

/** A file a user message carries (`chat_messages.attachments`), stored in the `attachments` bucket. */
export interface Attachment {
  bucket: 'attachments'
  path: string
  name: string
  mime_type: string
  size: number
  width?: number
  height?: number
}

export interface ChatMessage {
  id: string
  session_id: string
  /** The message this one follows (null for a first question); an answer's parent is its question. */
  parent_id: string | null
  /** Which answer to its question this is (answers are numbered from 1); null for questions. */
  answer_no: number | null
  message_type: MessageType
  content: string
  role_id: string | null
  status: MessageStatus
  reply_to: string | null
  tokens_used: number
  response_time: number | null
  error_code: string | null
  error_message: string | null
  cancel_requested: boolean
  attachments?: Attachment[]
  /** How many times a worker claimed this answer; broadcast chunks carry it as `attempt`. */
  attempts?: number
  created_at: string
  /** The question asked for web search. */
  web_search: boolean
  model: string | null
  finish_reason: string | null
  /** The answer's thinking, apart from its content, and how long it took. */
  reasoning: string | null
  reasoning_ms: number | null
  sources: Source[] | null
  /** The provider's usage for an answer (input includes cached; output includes reasoning). */
  input_tokens?: number | null
  output_tokens?: number | null
  reasoning_tokens?: number | null
  cached_tokens?: number | null
  /** The words a /v1 request ended with that this answer continued (Qwen's partial mode): `content`
   *  is the continuation only. A column of the row (set by the database, never by a client), so a
   *  change heard on Realtime carries it as a read does; null for any other message. */
  continues?: string | null
}

export interface SearchHit {
  id: string
  session_id: string
  message_type: MessageType
  content: string
  role_id: string | null
  created_at: string
  rank: number
  /** Where the hit stands in the search's order: the next page is read `after` it. */
  cursor: string
}

export const MESSAGE_COLUMNS =
  'id,session_id,parent_id,answer_no,message_type,content,role_id,status,reply_to,tokens_used,response_time,error_code,error_message,cancel_requested,attempts,created_at,web_search,model,finish_reason,reasoning,reasoning_ms,sources,attachments,input_tokens,output_tokens,reasoning_tokens,cached_tokens,continues'

export function isFinal(status: MessageStatus): boolean {
  return status === 'completed' || status === 'error' || status === 'cancelled'
}

/** An OpenAI-compatible request's messages before its question (`question_contexts.messages`). */
export interface ContextMessage {
  role: 'system' | 'user' | 'assistant'
  content: string
}
