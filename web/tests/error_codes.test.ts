/**
 * Every refusal the database raises with a code of ours (`raise_refusal(status, 'Code', …)`, or an
 * exception whose message starts `Code: `) and every code the API's account calls answer, as the
 * web app words it: in Chinese and in English, not "something went wrong" with the server's
 * English beside it. A code no door of the web app can meet is listed below with why.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeI18n } from '@/i18n'
import { AccountError } from '@/lib/account'
import { errorParts } from '@/lib/errors'

// Vitest runs in web/ (its config's folder); the migrations are the repository's.
const folder = resolve(process.cwd(), '..', 'migrations')
const migrations = readdirSync(folder)
  .filter((name) => name.endsWith('.sql'))
  .map((name) => readFileSync(resolve(folder, name), 'utf8'))
  .join('\n')

/** Codes the web app never meets, and why. */
const UNREACHABLE: Record<string, string> = {
  KeyIdTaken: 'the id is a fresh UUID, and storeOnce (lib/usage.ts) takes a taken one for its own lost attempt',
  ShareIdTaken: 'as KeyIdTaken, for share links (ShareDialog.vue)',
  InvalidEdit: 'the web app names as edited only the question it shows beside the edit',
  ModelNotFound: "raised for a question's own model, which the web app never sets (it sets the chat's)",
  ValidationError: "the key form trims the name, keeps it to 100 characters and computes a future expiry; the rest are ops' sweeps",
}

const zh = makeI18n('zh-CN').global
const en = makeI18n('en').global

/** PostgREST passes a refusal on with our code as the error's code (raise_refusal's PGRST error),
 *  and an exception whose message starts with our code with its SQLSTATE and that message. */
function refusals(): { code: string; message: string }[] {
  const found = new Map<string, { code: string; message: string }>()
  for (const match of migrations.matchAll(/raise_refusal\(\s*\d+\s*,\s*'([A-Za-z]+)'/g)) {
    found.set(match[1]!, { code: match[1]!, message: "the server's words" })
  }
  for (const match of migrations.matchAll(/raise exception '([A-Z][A-Za-z]+): [^']*'[^;]*?using errcode = '(\w+)'/g)) {
    found.set(match[1]!, { code: match[2]!, message: `${match[1]!}: the server's words` })
  }
  return [...found.entries()].sort().map(([, error]) => error)
}

const codeOf = (error: { code: string; message: string }) => /^(\w+): /.exec(error.message)?.[1] ?? error.code

describe('every error code has words', () => {
  it('finds the codes it checks', () => {
    expect(refusals().map(codeOf)).toEqual(expect.arrayContaining(['QuotaExceeded', 'GuestLimitReached', 'TooManyImages', 'MessageNotFound']))
  })

  it("words each of the database's refusals in both languages", () => {
    const unworded = new Set<string>()
    for (const error of refusals()) {
      if (codeOf(error) in UNREACHABLE) continue
      for (const i18n of [zh, en]) {
        const { text, detail } = errorParts(error, i18n.t)
        if (detail !== null || text === i18n.t('common.error')) unworded.add(codeOf(error))
      }
    }
    expect([...unworded]).toEqual([])
  })

  it("words each code of the API's account calls (export, deletion) in both languages", () => {
    // api/routes/account.py, api/security.py and api/autherrors.py: what GET /api/account/export
    // and DELETE /api/account answer besides success (InvalidPassword and SecondFactorRequired are
    // worded by AccountData.vue itself).
    const codes = ['NotAuthenticated', 'InvalidToken', 'TokenExpired', 'RateLimited', 'UpstreamUnavailable', 'HTTP502', 'NetworkError']
    const unworded = codes.filter((code) => {
      const error = new AccountError(code, "the server's words", 400)
      return [zh, en].some((i18n) => errorParts(error, i18n.t).detail !== null)
    })
    expect(unworded).toEqual([])
  })
})

describe("Auth's refusals a deployment's settings bring", () => {
  it('words sign-ups and guests switched off, and a session ended elsewhere, in both languages', () => {
    // localbase/auth (as GoTrue): signup.py and verify.py `signup_disabled`, anonymous.py
    // `anonymous_provider_disabled`, account.py `session_not_found`.
    const codes = ['signup_disabled', 'anonymous_provider_disabled', 'session_not_found']
    const unworded = codes.filter((code) => [zh, en].some((i18n) => errorParts({ code, message: "the server's words" }, i18n.t).detail !== null))
    expect(unworded).toEqual([])
  })
})

describe("a failed answer's codes", () => {
  it("words every code the worker and the database give an answer, in both languages, read from their sources", async () => {
    const { answerFailure } = await import('@/lib/answerFailure')
    // worker/errors.py USER_MESSAGES (the worker's codes), and the database's own (an answer past
    // its attempts, a question the moderation refused).
    const worker = readFileSync(resolve(process.cwd(), '..', 'worker', 'errors.py'), 'utf8')
    const table = /USER_MESSAGES[^{]*\{([\s\S]*?)\n\}/.exec(worker)?.[1] ?? ''
    const codes = new Set([...table.matchAll(/^\s+"([A-Za-z]+)":/gm)].map((match) => match[1]!))
    for (const match of migrations.matchAll(/error_code = (?:case [^']*)?'([A-Z][A-Za-z]+)'/g)) codes.add(match[1]!)
    expect([...codes]).toEqual(expect.arrayContaining(['WorkerError', 'TurnTimeout', 'AttemptsExhausted', 'ContentFiltered']))
    const unworded = [...codes].filter((code) =>
      [zh, en].some((i18n) => answerFailure({ errorCode: code, errorMessage: 'stored' }, i18n.t, i18n.te) === 'stored'),
    )
    expect(unworded).toEqual([])
  })
})
