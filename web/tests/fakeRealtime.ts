/**
 * A fake Realtime server for the app's own supabase-js client: a stubbed WebSocket speaking protocol
 * 2.0.0 frames `[join_ref, ref, topic, event, payload]`. A test file stubs the global with it
 * (`vi.stubGlobal('WebSocket', FakeSocket)`) before it imports the stores, reads what the client
 * sent and answers with `receive`.
 */
import { vi } from 'vitest'
import type { ConversationRows } from '@/stores/chat/messages'
import type { SessionList } from '@/stores/chat/sessions'

export type Frame = [string | null, string | null, string, string, Record<string, unknown>]

export class FakeSocket {
  static sockets: FakeSocket[] = []
  static readonly CONNECTING = 0
  static readonly OPEN = 1
  static readonly CLOSING = 2
  static readonly CLOSED = 3
  readyState = 0
  binaryType = 'arraybuffer'
  protocol = ''
  url: string
  sent: Frame[] = []
  onopen: ((event: unknown) => void) | null = null
  onmessage: ((event: { data: string }) => void) | null = null
  onclose: ((event: unknown) => void) | null = null
  onerror: ((event: unknown) => void) | null = null

  constructor(url: string) {
    this.url = url
    FakeSocket.sockets.push(this)
    setTimeout(() => {
      this.readyState = 1
      this.onopen?.({})
    })
  }

  send(data: string): void {
    const frame = JSON.parse(data) as Frame
    this.sent.push(frame)
    if (frame[3] === 'phx_leave') this.receive([frame[0], frame[1], frame[2], 'phx_reply', { status: 'ok', response: {} }])
  }

  close(code = 1000): void {
    this.readyState = 3
    this.onclose?.({ code, reason: '', wasClean: true })
  }

  addEventListener(): void {}
  removeEventListener(): void {}

  receive(frame: Frame): void {
    this.onmessage?.({ data: JSON.stringify(frame) })
  }
}

/** Polls `condition` every 5 ms, for up to a second. */
export async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (condition()) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** What an open conversation's channel reads through, faked: its rows and the session list, each
 * read noted in `reads` (`messages <id>`, `session <id>`) for the test to see when the channel read. */
export function conversationReaders() {
  const reads: string[] = []
  const rows = {
    loadMessages: vi.fn((id: string) => {
      reads.push(`messages ${id}`)
      return Promise.resolve()
    }),
    fetchAnswers: vi.fn(() => Promise.resolve()),
    upsert: vi.fn(),
    drop: vi.fn(),
  } as unknown as ConversationRows
  const list = {
    refreshSession: vi.fn((id: string) => {
      reads.push(`session ${id}`)
      return Promise.resolve()
    }),
    mergeSession: vi.fn(),
  } as unknown as SessionList
  return { reads, rows, list }
}
