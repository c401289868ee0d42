/**
 * Storing something whose name the page chose, through a network that can lose the answer.
 *
 * An insert (or upload) that fails on the way (no response: the connection dropped, the phone
 * went through a tunnel; or a gateway that is restarting: 502/503/504) may or may not have been
 * stored. Sending it again under a new name would store it twice (and charge a question twice);
 * giving up would tell the user it failed when it is being answered. So the page names the row
 * (a UUID it made; for an upload, its path) and, after such a failure, first looks for that name:
 * found, the first attempt was stored and that is the result; not found, the same write is sent
 * again (same name), and a name that is meanwhile taken (the first attempt landed late) is looked
 * up once more. Looking first matters: a question's insert triggers admit it against the quota
 * before the key is checked, so a second insert of a question that used the last of it would be
 * refused as over quota. Refusals (RLS, quota, bad input) are final and come back as they are.
 */

/** What supabase-js resolves a query to: `status` 0 when no response arrived. */
export interface Outcome<T> {
  data: T | null
  error: { code?: string; message: string } | null
  status: number
}

/** Waits before each further attempt, in milliseconds. */
export const RETRY_WAITS_MS = [400, 1200, 3000]

/** No response, or a proxy's "the server is not there right now": the write may have landed. */
export function inDoubt(outcome: Outcome<unknown>): boolean {
  return outcome.error !== null && [0, 502, 503, 504].includes(outcome.status)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface Retries<T> {
  /** The write's refusal when the name is already stored. Default: PostgREST's unique violation. */
  taken?: (outcome: Outcome<T>) => boolean
  waits?: readonly number[]
}

const uniqueViolation = (outcome: Outcome<unknown>) => outcome.error?.code === '23505'

/**
 * `insert` the row, or find it already stored: `find` reads the row of the same name (null data
 * when there is none the user can see). Resolves to the last outcome; its `error` is null when
 * the row is stored, exactly once.
 */
export async function storeOnce<T>(
  insert: () => PromiseLike<Outcome<T>>,
  find: () => PromiseLike<Outcome<T>>,
  { taken = uniqueViolation, waits = RETRY_WAITS_MS }: Retries<T> = {},
): Promise<Outcome<T>> {
  let outcome = await insert()
  for (const wait of waits) {
    if (!inDoubt(outcome)) return outcome
    await sleep(wait)
    const found = await find()
    if (found.error === null && found.data !== null) return found
    if (found.error !== null) {
      outcome = found // could not look: still in doubt when the network is, final otherwise
      continue
    }
    outcome = await insert()
    if (taken(outcome)) {
      // The name is taken: the earlier attempt was stored after the look. It is the answer.
      const late = await find()
      return late.error === null && late.data !== null ? late : outcome
    }
  }
  return outcome
}

/**
 * Creating something whose answer is the only place a secret ever appears (a new API key, a share
 * link's token: the database keeps their hashes). `create(id)` is sent under a name the page made
 * (`newId()`), and again under the same name while its outcome is in doubt. Refused as `taken`
 * after a doubt, the first attempt was stored and its secret went with the lost answer: that one
 * is `revoke`d (revoked or deleted: nobody ever saw its secret, so it must never work) and the
 * thing is made again under a new name, so the user gets one that works and nothing live is left
 * that nobody can use. A first attempt that arrives late meets its taken name and stores nothing.
 * Given up while still in doubt, the last name is revoked too, as far as the network lets.
 * Refusals come back as they are.
 */
export async function createShownOnce<T>(
  create: (id: string) => PromiseLike<Outcome<T>>,
  revoke: (id: string) => PromiseLike<Outcome<unknown>>,
  newId: () => string,
  { taken, waits = RETRY_WAITS_MS }: Retries<T> & { taken: (outcome: Outcome<T>) => boolean },
): Promise<Outcome<T>> {
  let id = newId()
  let outcome = await create(id)
  let doubted = false
  let tries = 0
  for (;;) {
    if (doubted && taken(outcome)) {
      await repeatWhileInDoubt(() => revoke(id), waits)
      id = newId()
      doubted = false
      outcome = await create(id)
      continue
    }
    if (!inDoubt(outcome)) return outcome
    const wait = waits[tries++]
    if (wait === undefined) {
      await revoke(id)
      return outcome
    }
    doubted = true
    await sleep(wait)
    outcome = await create(id)
  }
}

/**
 * A call whose repeat, once it has taken effect, is refused (`already`: setting the password it
 * has just set is `same_password`), made again while its outcome is in doubt. That refusal after
 * a doubt says the lost attempt was applied: it resolves as done. The same refusal of a first
 * attempt, or after an answer that did come back, stays a refusal.
 */
export async function repeatTillApplied<T>(
  call: () => PromiseLike<Outcome<T>>,
  already: (outcome: Outcome<T>) => boolean,
  waits: readonly number[] = RETRY_WAITS_MS,
): Promise<Outcome<T>> {
  let doubted = false // every attempt so far went unanswered (it stops at the first that did not)
  return repeatWhileInDoubt(async () => {
    const outcome = await call()
    if (doubted && already(outcome)) return { data: null, error: null, status: outcome.status }
    doubted = inDoubt(outcome)
    return outcome
  }, waits)
}

/** A call that gives the same result when repeated with the same arguments (`request_answer` with
 * its answer number), made again while its outcome is in doubt. */
export async function repeatWhileInDoubt<T>(
  call: () => PromiseLike<Outcome<T>>,
  waits: readonly number[] = RETRY_WAITS_MS,
): Promise<Outcome<T>> {
  let outcome = await call()
  for (const wait of waits) {
    if (!inDoubt(outcome)) break
    await sleep(wait)
    outcome = await call()
  }
  return outcome
}
