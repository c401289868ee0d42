/**
 * A question (or session) insert whose response is lost: found when the first attempt was stored,
 * sent again under the same id when it was not, never stored twice; refusals are not retried. An
 * idempotent call (a numbered answer requested) is repeated while in doubt, and only then.
 * A fake server with a table of ids stands in for supabase-js; the browser journey does the same
 * through the real stack (web/e2e/run.mjs, "a send whose response is lost").
 */
import { describe, expect, it } from 'vitest'
import { inDoubt, repeatWhileInDoubt, storeOnce, type Outcome, type Retries } from '@/lib/storeOnce'

type Fate = 'stored' | 'lost-after-storing' | 'lost-before-storing' | 'unavailable' | 'refused' | 'stored-late'

/** A table of one row id; each request meets the next fate in the script (default: it works). */
class Server {
  stored = 0
  inserts = 0
  finds = 0
  pending = false // a lost insert that reaches the table only at the next request
  constructor(
    private readonly script: Fate[],
    private readonly duplicate: Outcome<{ id: string }> = { data: null, error: { code: '23505', message: 'duplicate key' }, status: 409 },
  ) {}

  insert(): Promise<Outcome<{ id: string }>> {
    this.inserts += 1
    const fate = this.script.shift() ?? 'stored'
    if (this.pending) this.land()
    if (fate === 'refused') return Promise.resolve({ data: null, error: { code: 'QuotaExceeded', message: 'over quota' }, status: 400 })
    if (fate === 'unavailable') return Promise.resolve({ data: null, error: { message: 'bad gateway' }, status: 502 })
    if (fate === 'lost-before-storing') return Promise.resolve(lost())
    if (this.stored > 0) return Promise.resolve(this.duplicate)
    if (fate === 'stored-late') {
      this.pending = true
      return Promise.resolve(lost())
    }
    this.stored += 1
    return Promise.resolve(fate === 'lost-after-storing' ? lost() : { data: { id: 'q' }, error: null, status: 201 })
  }

  find(): Promise<Outcome<{ id: string }>> {
    this.finds += 1
    const found = { data: this.stored ? { id: 'q' } : null, error: null, status: 200 }
    if (this.pending) this.land() // landed just after this look
    return Promise.resolve(found)
  }

  private land(): void {
    this.pending = false
    this.stored += 1
  }
}

function lost(): Outcome<{ id: string }> {
  return { data: null, error: { code: '', message: 'TypeError: Failed to fetch' }, status: 0 }
}

async function run(script: Fate[] | Server, retries: Retries<{ id: string }> = {}) {
  const server = script instanceof Server ? script : new Server(script)
  const outcome = await storeOnce(
    () => server.insert(),
    () => server.find(),
    { waits: [0, 0, 0], ...retries },
  )
  return { outcome, server }
}

describe('storeOnce', () => {
  it('stores on the first attempt without looking', async () => {
    const { outcome, server } = await run(['stored'])
    expect(outcome.error).toBeNull()
    expect([server.stored, server.inserts, server.finds]).toEqual([1, 1, 0])
  })

  it('finds the row when the response of a stored insert was lost', async () => {
    const { outcome, server } = await run(['lost-after-storing'])
    expect(outcome).toMatchObject({ data: { id: 'q' }, error: null })
    expect([server.stored, server.inserts, server.finds]).toEqual([1, 1, 1])
  })

  it('sends the same insert again when the first never reached the table', async () => {
    const { outcome, server } = await run(['lost-before-storing', 'unavailable', 'stored'])
    expect(outcome.error).toBeNull()
    expect([server.stored, server.inserts, server.finds]).toEqual([1, 3, 2])
  })

  it('takes the row of an attempt that landed after the look, not a duplicate-key error', async () => {
    const { outcome, server } = await run(['stored-late', 'stored'])
    expect(outcome).toMatchObject({ data: { id: 'q' }, error: null })
    expect([server.stored, server.inserts, server.finds]).toEqual([1, 2, 2])
  })

  it("knows a taken name by the caller's test (Storage's Duplicate for an upload's path)", async () => {
    const duplicate = { data: null, error: { message: 'The resource already exists', statusCode: '409' }, status: 400 }
    const taken = (o: Outcome<{ id: string }>) => (o.error as { statusCode?: string } | null)?.statusCode === '409'
    const server = new Server(['stored-late', 'stored'], duplicate)
    const { outcome } = await run(server, { taken })
    expect(outcome).toMatchObject({ data: { id: 'q' }, error: null })
    expect([server.stored, server.inserts, server.finds]).toEqual([1, 2, 2])
    const unrecognised = await run(new Server(['stored-late', 'stored'], duplicate))
    expect(unrecognised.outcome.error?.message).toBe('The resource already exists') // not taken for 23505: returned
  })

  it('returns a refusal at once, and a refusal after a lost attempt too', async () => {
    const first = await run(['refused'])
    expect(first.outcome.error?.code).toBe('QuotaExceeded')
    expect([first.server.inserts, first.server.finds]).toEqual([1, 0])
    const later = await run(['lost-before-storing', 'refused'])
    expect(later.outcome.error?.code).toBe('QuotaExceeded')
    expect([later.server.stored, later.server.inserts, later.server.finds]).toEqual([0, 2, 1])
  })

  it('gives up in doubt after the last wait, having stored nothing twice', async () => {
    const { outcome, server } = await run(['lost-before-storing', 'lost-before-storing', 'lost-before-storing', 'lost-before-storing'])
    expect(inDoubt(outcome)).toBe(true)
    expect([server.stored, server.inserts, server.finds]).toEqual([0, 4, 3])
  })
})

describe('repeatWhileInDoubt', () => {
  const answers = (fates: Outcome<string>[]) => {
    const calls: number[] = []
    const call = () => {
      calls.push(calls.length)
      return Promise.resolve(fates.shift() ?? { data: 'answer 2', error: null, status: 200 })
    }
    return { call, calls }
  }
  const lostCall: Outcome<string> = { data: null, error: { message: 'TypeError: Failed to fetch' }, status: 0 }

  it('asks again while no response came, then takes the answer', async () => {
    const { call, calls } = answers([lostCall, { ...lostCall, status: 503 }])
    expect(await repeatWhileInDoubt(call, [0, 0, 0])).toMatchObject({ data: 'answer 2', error: null })
    expect(calls.length).toBe(3)
  })

  it('does not repeat an answer or a refusal', async () => {
    const once = answers([])
    await repeatWhileInDoubt(once.call, [0, 0])
    expect(once.calls.length).toBe(1)
    const refused = answers([{ data: null, error: { code: 'QuotaExceeded', message: 'over quota' }, status: 400 }])
    expect((await repeatWhileInDoubt(refused.call, [0, 0])).error?.code).toBe('QuotaExceeded')
    expect(refused.calls.length).toBe(1)
  })
})
