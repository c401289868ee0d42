/**
 * A question (or session) insert whose response is lost: found when the first attempt was stored,
 * sent again under the same id when it was not, never stored twice; refusals are not retried. An
 * idempotent call (a numbered answer requested) is repeated while in doubt, and only then. A new
 * password whose answer is lost is set again, and Auth's "same password" then means it was set.
 * A new API key is made once with a secret its user saw: a key stored by an attempt whose answer
 * was lost is revoked and another made. A fake server with a table of ids stands in for
 * supabase-js; the browser journeys do the same through the real stack (web/e2e/run.mjs, "a send
 * whose response is lost"; web/e2e/service.mjs, "an API key whose answer is lost").
 */
import { describe, expect, it } from 'vitest'
import { createShownOnce, inDoubt, repeatTillApplied, repeatWhileInDoubt, storeOnce, type Outcome, type Retries } from '@/lib/storeOnce'

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

function lost(): Outcome<never> {
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

/** Keys by id; each create meets the next fate in the script (default: it works). */
class Keys {
  rows = new Map<string, { secret: string; revoked: boolean }>()
  creates: string[] = []
  revokes: string[] = []
  private late: string | null = null // a lost create that reaches the table only at the next request

  constructor(private readonly script: Fate[]) {}

  create(id: string): Promise<Outcome<{ id: string; key: string }>> {
    this.creates.push(id)
    const fate = this.script.shift() ?? 'stored'
    this.landLate()
    if (fate === 'refused') return Promise.resolve({ data: null, error: { code: 'TooManyKeys', message: '20 keys' }, status: 409 })
    if (fate === 'unavailable') return Promise.resolve({ data: null, error: { message: 'bad gateway' }, status: 502 })
    if (fate === 'lost-before-storing') return Promise.resolve(lost())
    if (fate === 'stored-late') {
      this.late = id
      return Promise.resolve(lost())
    }
    if (this.rows.has(id)) {
      const taken = { data: null, error: { code: 'KeyIdTaken', message: 'taken' }, status: 409 }
      return Promise.resolve(fate === 'lost-after-storing' ? lost() : taken)
    }
    const key = `sk-${this.rows.size + 1}`
    this.rows.set(id, { secret: key, revoked: false })
    return Promise.resolve(fate === 'lost-after-storing' ? lost() : { data: { id, key }, error: null, status: 200 })
  }

  revoke(id: string): Promise<Outcome<boolean>> {
    this.revokes.push(id)
    this.landLate()
    const row = this.rows.get(id)
    if (row) row.revoked = true
    return Promise.resolve({ data: row !== undefined, error: null, status: 200 })
  }

  live(): string[] {
    return [...this.rows.values()].filter((row) => !row.revoked).map((row) => row.secret)
  }

  private landLate(): void {
    if (this.late !== null && !this.rows.has(this.late)) this.rows.set(this.late, { secret: 'sk-late', revoked: false })
    this.late = null
  }
}

async function makeKey(script: Fate[]) {
  const keys = new Keys(script)
  let made = 0
  const outcome = await createShownOnce(
    (id) => keys.create(id),
    (id) => keys.revoke(id),
    () => `id-${++made}`,
    { taken: (o) => o.error?.code === 'KeyIdTaken', waits: [0, 0, 0] },
  )
  return { outcome, keys }
}

describe('createShownOnce', () => {
  it('makes the key at once, nothing revoked', async () => {
    const { outcome, keys } = await makeKey(['stored'])
    expect(outcome).toMatchObject({ data: { id: 'id-1', key: 'sk-1' }, error: null })
    expect([keys.creates, keys.revokes, keys.live()]).toEqual([['id-1'], [], ['sk-1']])
  })

  it('revokes a key stored by an attempt whose answer was lost and makes another whose secret is shown', async () => {
    const { outcome, keys } = await makeKey(['lost-after-storing'])
    expect(outcome).toMatchObject({ data: { id: 'id-2', key: 'sk-2' }, error: null })
    expect(keys.creates).toEqual(['id-1', 'id-1', 'id-2'])
    expect(keys.revokes).toEqual(['id-1'])
    expect(keys.live()).toEqual(['sk-2']) // the one live key is the one whose secret the user has
  })

  it('sends the same name again when the first attempt never arrived, and revokes nothing', async () => {
    const { outcome, keys } = await makeKey(['lost-before-storing', 'unavailable', 'stored'])
    expect(outcome).toMatchObject({ data: { id: 'id-1', key: 'sk-1' }, error: null })
    expect([keys.creates, keys.revokes, keys.live()]).toEqual([['id-1', 'id-1', 'id-1'], [], ['sk-1']])
  })

  it('revokes a key whose first attempt landed late, after the answer was lost', async () => {
    const { outcome, keys } = await makeKey(['stored-late'])
    expect(outcome).toMatchObject({ data: { id: 'id-2' }, error: null })
    expect(keys.revokes).toEqual(['id-1'])
    expect(keys.live()).toEqual([outcome.data?.key])
  })

  it('returns a refusal as it is: no repeat, nothing revoked', async () => {
    const { outcome, keys } = await makeKey(['refused'])
    expect(outcome.error?.code).toBe('TooManyKeys')
    expect([keys.creates.length, keys.revokes, keys.live()]).toEqual([1, [], []])
  })

  it('a refusal of a first attempt that was never in doubt is not taken for a lost answer', async () => {
    const keys = new Keys([])
    keys.rows.set('id-1', { secret: 'sk-0', revoked: false })
    const outcome = await createShownOnce((id) => keys.create(id), (id) => keys.revoke(id), () => 'id-1', {
      taken: (o) => o.error?.code === 'KeyIdTaken',
      waits: [0],
    })
    expect(outcome.error?.code).toBe('KeyIdTaken')
    expect(keys.revokes).toEqual([])
  })

  it('gives up in doubt after the last wait and revokes what it may have stored', async () => {
    const { outcome, keys } = await makeKey(['lost-after-storing', 'lost-after-storing', 'lost-after-storing', 'lost-after-storing'])
    expect(inDoubt(outcome)).toBe(true)
    expect(keys.creates).toEqual(['id-1', 'id-1', 'id-1', 'id-1'])
    expect(keys.revokes).toEqual(['id-1'])
    expect(keys.live()).toEqual([])
  })
})

describe('repeatTillApplied', () => {
  /** Auth's PUT /user with a password: refused as `same_password` when it is the current one. */
  const auth = (fates: ('applied-lost' | 'lost' | 'answered')[], current = 'old-pass-1') => {
    const state = { current, calls: 0 }
    const call = (password: string) => () => {
      state.calls += 1
      const fate = fates.shift() ?? 'answered'
      if (fate === 'lost') return Promise.resolve(lost())
      if (password === state.current) {
        return Promise.resolve({ data: null, error: { code: 'same_password', message: 'New password should be different' }, status: 422 })
      }
      state.current = password
      return Promise.resolve(fate === 'applied-lost' ? lost() : { data: 'user', error: null, status: 200 })
    }
    return { call, state }
  }
  const same = (o: Outcome<unknown>) => o.error?.code === 'same_password'

  it('takes "same password" after a lost answer as the lost attempt applied', async () => {
    const server = auth(['applied-lost', 'lost'])
    expect((await repeatTillApplied(server.call('new-pass-2'), same, [0, 0, 0])).error).toBeNull()
    expect(server.state).toEqual({ current: 'new-pass-2', calls: 3 })
  })

  it('sets it again when the lost attempt never arrived', async () => {
    const server = auth(['lost'])
    expect(await repeatTillApplied(server.call('new-pass-2'), same, [0, 0])).toMatchObject({ data: 'user', error: null })
    expect(server.state).toEqual({ current: 'new-pass-2', calls: 2 })
  })

  it('keeps "same password" a refusal when no answer was lost', async () => {
    const server = auth([])
    expect((await repeatTillApplied(server.call('old-pass-1'), same, [0, 0])).error?.code).toBe('same_password')
    expect(server.state.calls).toBe(1)
  })

  it('gives up in doubt after its waits', async () => {
    const server = auth(['lost', 'lost', 'lost'])
    expect(inDoubt(await repeatTillApplied(server.call('new-pass-2'), same, [0, 0]))).toBe(true)
    expect(server.state).toEqual({ current: 'old-pass-1', calls: 3 })
  })
})
