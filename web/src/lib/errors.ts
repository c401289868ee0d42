/**
 * Errors from supabase-js (and the ChatGalaxy API) as i18n keys where we know them. Auth errors
 * carry GoTrue's stable `code`; PostgREST errors carry the SQLSTATE, or our own code (as the code,
 * or as the message's prefix); a request that got no response is a network failure. An error we
 * have no words for is "something went wrong" with the server's own text beside it, for support.
 */
export interface Described {
  key: string | null
  message: string
}

const AUTH_CODES: Record<string, string> = {
  invalid_credentials: 'auth.invalidCredentials',
  user_already_exists: 'auth.emailTaken',
  email_exists: 'auth.emailTaken',
  weak_password: 'auth.weakPassword',
  same_password: 'auth.samePassword',
  user_banned: 'auth.userBanned',
  over_request_rate_limit: 'auth.rateLimited',
  over_email_send_rate_limit: 'auth.rateLimited',
  mfa_verification_failed: 'mfa.codeWrong',
  mfa_challenge_expired: 'mfa.codeWrong',
  insufficient_aal: 'mfa.needCode',
  email_not_confirmed: 'auth.emailNotConfirmed',
  otp_expired: 'auth.linkInvalid',
  // What a deployment's Auth settings switch off, and a session ended elsewhere (signed out everywhere).
  signup_disabled: 'auth.signupDisabled',
  anonymous_provider_disabled: 'guest.disabled',
  session_not_found: 'auth.signedOut',
}

/** The database's refusals of a question (plans and quotas), raised with our own codes. */
const REFUSALS: Record<string, string> = {
  QuotaExceeded: 'usage.quotaExceeded',
  AccountDisabled: 'usage.accountDisabled',
  ModelNotAllowed: 'usage.modelNotAllowed',
  FeatureNotAllowed: 'usage.featureNotAllowed',
  VisionModelNotAllowed: 'usage.visionModelNotAllowed',
  // an edit or a branch of a /v1 request whose max_tokens its model no longer writes (its limit lowered since)
  MaxTokensTooLarge: 'usage.maxTokensTooLarge',
  ThinkingBudgetTooLarge: 'usage.thinkingBudgetTooLarge', // the same, for its thinking_budget
  RateLimited: 'auth.rateLimited',
  TooManyKeys: 'keys.tooMany',
  GuestNotAllowed: 'keys.guestsNone',
  SearchTooLong: 'history.searchTooLong',
  InvalidCursor: 'history.searchStale', // a further page asked with a cursor this search did not give
  RoleNotFound: 'roles.unavailable',
}

/** Refusals whose message starts with our code (`GuestLimitReached: sign up…`), by that code. */
const PREFIXED: Record<string, string> = {
  GuestLimitReached: 'guest.limitReached',
  QuestionNotFound: 'trees.questionGone',
  StaleAnswerNumber: 'trees.answerAskedMeanwhile',
  MessageNotFound: 'trees.messageGone', // a branch from a message deleted meanwhile (chat_branch)
  SessionNotFound: 'chat.notFound', // a share link of a chat deleted meanwhile (share_session)
  // A message's images past the database's limits (the composer refuses them first, lib/files.ts).
  TooManyImages: 'files.refusedTooManyImages',
  ImageTooLarge: 'files.refusedImageTooLarge',
  ImageTooManyPixels: 'files.refusedImagePixels',
  ImageDimensionsMissing: 'files.refusedImageUnreadable',
  // a persona's thinking_budget past its model's longest thought (its model changed, or saved through the REST API)
  RoleThinkingBudgetTooLarge: 'roles.thinkingBudgetTooLarge',
}

/** The ChatGalaxy API's codes (lib/account.ts AccountError) that are no refusal of the request itself. */
const API_CODES: Record<string, string> = {
  NetworkError: 'common.network',
  NotAuthenticated: 'auth.signedOut',
  InvalidToken: 'auth.signedOut', // a session ended elsewhere, or the account deleted
  TokenExpired: 'auth.signedOut',
  UpstreamUnavailable: 'common.serverError', // Auth did not answer the API
  NotFound: 'common.notFound',
}

/** What fetch says when no response came (Chrome, Firefox, Safari, Node), as supabase-js passes it on. */
const NO_RESPONSE = /^(?:\w*Error: )?(?:Failed to fetch|NetworkError when attempting to fetch resource|Load failed|fetch failed)/i

/** How much of a server's message is shown beside "something went wrong". */
const DETAIL_MAX = 300

/** The key a table gives a code (its own entries only: `constructor` is no code). */
function keyOf(table: Record<string, string>, code: string): string | null {
  return Object.prototype.hasOwnProperty.call(table, code) ? (table[code] ?? null) : null
}

type Translate = (key: string, named?: Record<string, unknown>) => string

/**
 * The error as the page words it: `text` in the reader's language and, for an error we have no
 * words for, the server's (or browser's) own message as `detail`, to be shown smaller.
 */
export function errorParts(error: unknown, t: Translate): { text: string; detail: string | null } {
  const d = describeError(error)
  if (d.key) return { text: t(d.key), detail: null }
  const detail = d.message.length > DETAIL_MAX ? `${d.message.slice(0, DETAIL_MAX)}…` : d.message
  return { text: t('common.error'), detail: detail || null }
}

/** The error as one line (a toast, a form's message): its translation, else "something went wrong (the server's text)". */
export function errorText(error: unknown, t: Translate): string {
  const { text, detail } = errorParts(error, t)
  return detail ? t('common.errorDetail', { text, detail }) : text
}

export function describeError(error: unknown): Described {
  if (error && typeof error === 'object') {
    const e = error as { code?: unknown; message?: unknown; name?: unknown }
    const code = typeof e.code === 'string' ? e.code : ''
    const message = typeof e.message === 'string' && e.message ? e.message : String(error)
    const known = keyOf(AUTH_CODES, code) ?? keyOf(REFUSALS, code) ?? keyOf(API_CODES, code)
    if (known) return { key: known, message }
    if (code === '23505' && /username|profiles/i.test(message)) return { key: 'auth.usernameTaken', message }
    // An upload the stray-upload sweep removed before its message was sent (ops stray-uploads).
    if (code === '23503' && /^attachment .* does not exist$/.test(message)) return { key: 'files.gone', message }
    if (/^HTTP5\d\d$/.test(code)) return { key: 'common.serverError', message }
    const prefixed = keyOf(PREFIXED, /^(\w+): /.exec(message)?.[1] ?? '')
    if (prefixed) return { key: prefixed, message }
    if (NO_RESPONSE.test(message) || e.name === 'AuthRetryableFetchError') return { key: 'common.network', message }
    return { key: null, message }
  }
  return { key: null, message: String(error ?? '') }
}
