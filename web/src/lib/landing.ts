/**
 * What an e-mailed link brought back in the URL fragment (`#access_token=…&type=signup` or
 * `#error=access_denied&error_code=otp_expired…`, or `#message=…` for the first of the two links
 * of an address change, which starts no session), captured at start-up before supabase-js reads
 * the session out of it and clears it. /auth/callback shows the outcome.
 */
export interface Landing {
  type: string | null
  error: string | null
  errorCode: string | null
  description: string | null
  message: string | null
}

export function readLanding(hash: string): Landing | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''))
  const errorCode = params.get('error_code')
  if (!params.has('access_token') && !params.has('error') && errorCode === null && !params.has('message')) return null
  return {
    type: params.get('type'),
    // GoTrue names `error` only for some statuses (a 422, the new address taken meanwhile, comes
    // with error_code and error_description alone): a code is an error as much.
    error: params.get('error') ?? errorCode,
    errorCode,
    description: params.get('error_description'),
    message: params.get('message'),
  }
}

let captured: Landing | null = null

export function captureLanding(): void {
  captured = readLanding(window.location.hash)
}

export function landing(): Landing | null {
  return captured
}
