/**
 * Errors from supabase-js as i18n keys where we know them, else the server's own message.
 * Auth errors carry GoTrue's stable `code`; PostgREST errors carry the SQLSTATE.
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
}

/** The database's refusals of a question (plans and quotas), raised with our own codes. */
const REFUSALS: Record<string, string> = {
  QuotaExceeded: 'usage.quotaExceeded',
  AccountDisabled: 'usage.accountDisabled',
  ModelNotAllowed: 'usage.modelNotAllowed',
  FeatureNotAllowed: 'usage.featureNotAllowed',
  RateLimited: 'auth.rateLimited',
  TooManyKeys: 'keys.tooMany',
}

/** The error as the page shows it: its translation where we know it, else the server's own message. */
export function errorText(error: unknown, t: (key: string) => string): string {
  const d = describeError(error)
  return d.key ? t(d.key) : d.message
}

export function describeError(error: unknown): Described {
  if (error && typeof error === 'object') {
    const e = error as { code?: unknown; message?: unknown }
    const code = typeof e.code === 'string' ? e.code : ''
    const message = typeof e.message === 'string' && e.message ? e.message : String(error)
    if (code in AUTH_CODES) return { key: AUTH_CODES[code] ?? null, message }
    if (code === '23505' && /username|profiles/i.test(message)) return { key: 'auth.usernameTaken', message }
    // An upload the stray-upload sweep removed before its message was sent (ops stray-uploads).
    if (code === '23503' && /^attachment .* does not exist$/.test(message)) return { key: 'files.gone', message }
    if (code in REFUSALS) return { key: REFUSALS[code] ?? null, message }
    return { key: null, message }
  }
  return { key: null, message: String(error) }
}
