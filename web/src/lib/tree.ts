/**
 * A session's messages as a tree (migrations/..._conversation_trees.sql): each message has a
 * `parent_id` (null for a first question); an answer's parent is its question. The conversation
 * shown is the path root -> the session's `current_leaf_id` -> its newest descendants, the same
 * rule as the database's `chat_path`, so what the page shows is what the worker sends the model.
 */
import type { ChatMessage } from './types'

export interface Branches {
  /** The path, oldest first. */
  path: ChatMessage[]
  /** For a message on the path: it and its siblings (edits of a question, answers to a question), oldest first. */
  siblings: Map<string, string[]>
}

/** Time order, as the rows are read (created_at, then id). */
export function byTime(a: ChatMessage, b: ChatMessage): number {
  return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/** The children of each message ('' for the roots), oldest first. */
export function childrenOf(messages: ChatMessage[]): Map<string, ChatMessage[]> {
  const children = new Map<string, ChatMessage[]>()
  for (const m of messages) {
    const key = m.parent_id ?? ''
    const list = children.get(key)
    if (list) list.push(m)
    else children.set(key, [m])
  }
  for (const list of children.values()) list.sort(byTime)
  return children
}

/** The end of the conversation below `start`: follow the newest child down to a leaf. */
export function descend(children: Map<string, ChatMessage[]>, start: ChatMessage): ChatMessage {
  let node = start
  for (;;) {
    const below = children.get(node.id)
    const newest = below?.at(-1)
    if (!newest) return node
    node = newest
  }
}

export function branches(messages: ChatMessage[], leafId: string | null): Branches {
  const byId = new Map(messages.map((m) => [m.id, m]))
  const children = childrenOf(messages)
  const newest = [...messages].sort(byTime).at(-1)
  const start = (leafId && byId.get(leafId)) || newest
  const path: ChatMessage[] = []
  const siblings = new Map<string, string[]>()
  if (!start) return { path, siblings }
  const seen = new Set<string>()
  for (let node: ChatMessage | undefined = descend(children, start); node && !seen.has(node.id); ) {
    seen.add(node.id)
    path.push(node)
    const group = children.get(node.parent_id ?? '') ?? [node]
    if (group.length > 1) siblings.set(node.id, group.map((m) => m.id))
    node = node.parent_id ? byId.get(node.parent_id) : undefined
  }
  path.reverse()
  return { path, siblings }
}
