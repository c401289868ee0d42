/**
 * The full reads (a conversation's messages, the roles) read past PostgREST's `max_rows` page after
 * page. By offset, a row deleted between two pages moved every later one up, so the next page began
 * one row late and a row was never read; a row made meanwhile before the read point moved them down,
 * so a row was read twice. Read after the last row read (a keyset on a unique order no row changes
 * place in), neither happens.
 *
 * The app's own supabase-js client talks to a fake PostgREST (a stubbed `fetch`): rows in memory,
 * `order`, `offset`/`limit`, `eq`/`gt` filters and `or=(...)` trees as PostgREST reads them, a cap of
 * `max_rows` rows a response, `Prefer: count=exact`. `between` runs before every request but the first.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import type { AiRole, ChatMessage } from '@/lib/types'

type Row = Record<string, unknown>

const MAX_ROWS = 1000
const tables: { chat_messages: Row[]; ai_roles: Row[] } = { chat_messages: [], ai_roles: [] }
const requests: URL[] = []
let between: (request: number) => void = () => {}

/** `col.op.value` or `and(...)`/`or(...)`, split at the top level's commas (values may be "quoted"). */
function split(text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quoted = false
  let start = 0
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') quoted = !quoted
    else if (!quoted && c === '(') depth++
    else if (!quoted && c === ')') depth--
    else if (!quoted && depth === 0 && c === ',') {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}

function compare(a: unknown, b: string): number {
  const x = typeof a === 'number' ? a : String(a)
  const y = typeof a === 'number' ? Number(b) : b
  return x < y ? -1 : x > y ? 1 : 0
}

function test(row: Row, column: string, op: string, raw: string): boolean {
  const value = raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw
  const c = compare(row[column], value)
  if (op === 'eq') return c === 0
  if (op === 'gt') return c > 0
  if (op === 'gte') return c >= 0
  if (op === 'lt') return c < 0
  throw new Error(`the fake does not know ${op}`)
}

function condition(text: string): (row: Row) => boolean {
  for (const logic of ['and', 'or'] as const) {
    if (text.startsWith(`${logic}(`)) {
      const items = split(text.slice(logic.length + 1, -1)).map(condition)
      return logic === 'and' ? (row) => items.every((f) => f(row)) : (row) => items.some((f) => f(row))
    }
  }
  const [column, op, ...rest] = text.split('.')
  return (row) => test(row, column!, op!, rest.join('.'))
}

function respond(url: URL, headers: Headers): Response {
  requests.push(url)
  if (requests.length > 1) between(requests.length - 1)
  const table = (tables as Record<string, Row[] | undefined>)[url.pathname.replace('/rest/v1/', '')]
  if (!table) return new Response('{"message":"no such table"}', { status: 404 })
  const filters: ((row: Row) => boolean)[] = []
  let order: [string, boolean][] = []
  let offset = 0
  let limit = Infinity
  for (const [key, value] of url.searchParams) {
    if (key === 'select') continue
    else if (key === 'order') order = value.split(',').map((o) => [o.split('.')[0]!, o.split('.')[1] !== 'desc'])
    else if (key === 'offset') offset = Number(value)
    else if (key === 'limit') limit = Number(value)
    else if (key === 'or') filters.push(condition(`or${value}`))
    else filters.push(condition(`${key}.${value}`))
  }
  const found = table.filter((row) => filters.every((f) => f(row)))
  found.sort((a, b) => {
    for (const [column, up] of order) {
      const c = compare(a[column], String(b[column]))
      if (c !== 0) return up ? c : -c
    }
    return 0
  })
  const page = found.slice(offset, offset + Math.min(limit, MAX_ROWS))
  const counted = (headers.get('Prefer') ?? '').includes('count=exact')
  const range = `${page.length ? `${offset}-${offset + page.length - 1}` : '*'}/${counted ? found.length : '*'}`
  return new Response(JSON.stringify(page), { status: 200, headers: { 'Content-Type': 'application/json', 'Content-Range': range } })
}

vi.stubGlobal('fetch', (input: RequestInfo | URL, init?: RequestInit) => {
  const url = new URL(input instanceof Request ? input.url : String(input))
  return Promise.resolve(respond(url, new Headers(init?.headers)))
})
window.__CHATGALAXY_CONFIG__ = { supabaseUrl: 'http://db.test', supabaseAnonKey: 'anon', apiUrl: 'http://api.test' }

const { chatState } = await import('@/stores/chat/state')
const { sessionList } = await import('@/stores/chat/sessions')
const { conversationRows } = await import('@/stores/chat/messages')
const { useRoles } = await import('@/stores/roles')

/** Row `n` of session s1, a second apart (microseconds as PostgREST writes them), ids in another order. */
function message(n: number): ChatMessage {
  const stamp = new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString().replace('Z', '123+00:00')
  return {
    id: `${String((n * 7919) % 10007).padStart(5, '0')}-m`, session_id: 's1', parent_id: null, message_type: 'user',
    content: `message ${n}`, status: 'completed', reply_to: null, created_at: stamp,
  } as ChatMessage
}

function role(n: number): AiRole {
  return {
    id: `${String((n * 7919) % 10007).padStart(5, '0')}-r`, slug: `role-${n}`, name: `role ${n}`, description: null,
    system_prompt: 'p', avatar_url: null, sort_order: n % 3, created_by: 'u1', is_active: true, personality: {},
    translations: {}, created_at: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(),
  } as unknown as AiRole
}

async function loadMessages(): Promise<ChatMessage[]> {
  const state = chatState()
  const rows = conversationRows(state, sessionList(state))
  state.currentId.value = 's1'
  await rows.loadMessages('s1')
  return state.messages.value
}

const contents = (rows: { content?: string; name?: string }[]) => rows.map((r) => r.content ?? r.name)

beforeEach(() => {
  tables.chat_messages = Array.from({ length: 2500 }, (_, n) => message(n) as unknown as Row)
  tables.ai_roles = Array.from({ length: 1500 }, (_, n) => role(n) as unknown as Row)
  requests.length = 0
  between = () => {}
  setActivePinia(createPinia())
})

describe("a conversation's messages", () => {
  it('are all read when a message already read is deleted between two pages', async () => {
    between = (request) => {
      if (request === 1) tables.chat_messages = tables.chat_messages.filter((m) => m.content !== 'message 10')
    }
    // Read before it was deleted: every row is read, the deleted one in the first page.
    expect(contents(await loadMessages())).toEqual(contents(Array.from({ length: 2500 }, (_, n) => message(n))))
  })

  it('are all read, each once, when a message is written before the read point between two pages', async () => {
    const late = { ...message(500), id: '99999-m', content: 'written meanwhile', created_at: message(500).created_at }
    between = (request) => {
      if (request === 1) tables.chat_messages.push(late as unknown as Row)
    }
    const read = contents(await loadMessages())
    expect(read.filter((c) => c !== 'written meanwhile')).toEqual(contents(Array.from({ length: 2500 }, (_, n) => message(n))))
    expect(new Set(read).size).toBe(read.length)
  })

  it('read a short conversation in one request', async () => {
    tables.chat_messages = tables.chat_messages.slice(0, 3)
    expect((await loadMessages()).length).toBe(3)
    expect(requests.length).toBe(1)
  })
})

describe('the roles', () => {
  const inOrder = (rows: Row[]) =>
    [...rows].sort((a, b) => compare(a.sort_order, String(b.sort_order)) || compare(a.created_at, String(b.created_at)) || compare(a.id, String(b.id)))

  it('are all read, in their order, when a role already read is deleted between two pages', async () => {
    const gone = inOrder(tables.ai_roles)[10]!
    between = (request) => {
      if (request === 1) tables.ai_roles = tables.ai_roles.filter((r) => r !== gone)
    }
    const expected = inOrder(tables.ai_roles.filter((r) => r !== gone))
    const roles = useRoles()
    await roles.load()
    expect(roles.error).toBeNull()
    // The deleted one is read if its page came before the deletion; every other, once, in order.
    expect(contents(roles.roles.filter((r) => r.id !== gone.id))).toEqual(contents(expected as unknown as AiRole[]))
  })

  it('are each read once when one is made meanwhile, or moved by its sort order', async () => {
    between = (request) => {
      if (request !== 1) return
      tables.ai_roles.push({ ...role(0), id: '00000-new', slug: 'made', name: 'made meanwhile' } as unknown as Row)
      const moved = inOrder(tables.ai_roles)[1400]!
      moved.sort_order = -1 // an admin put it first
    }
    const roles = useRoles()
    await roles.load()
    const names = contents(roles.roles)
    expect(new Set(names).size).toBe(names.length)
    expect(names.filter((n) => n !== 'made meanwhile').sort()).toEqual(contents(Array.from({ length: 1500 }, (_, n) => role(n))).sort())
  })
})
