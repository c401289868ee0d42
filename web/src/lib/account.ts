/**
 * The account as a whole, through the ChatGalaxy API (`/api/account`): export everything as one
 * JSON file, and delete the account after the password is entered again (the API proves it with
 * a fresh sign-in, then deletes with Auth's admin API; a guest, who has no password, confirms only).
 */
import { readConfig } from './config'
import { RETRY_WAITS_MS, storeOnce, type Outcome } from './storeOnce'
import { supabase } from './supabase'
import { saveFile } from './download'

export class AccountError extends Error {
  constructor(
    public code: string,
    message: string,
    /** The HTTP status; 0 when no response arrived. */
    public status = 0,
  ) {
    super(message)
  }
}

async function call(path: string, init: RequestInit): Promise<Response> {
  const { data } = await supabase().auth.getSession()
  const token = data.session?.access_token
  if (!token) throw new AccountError('NotAuthenticated', 'Not signed in')
  let response: Response
  try {
    response = await fetch(`${readConfig().apiUrl}${path}`, {
      ...init,
      headers: { ...(init.headers ?? {}), Authorization: `Bearer ${token}` },
    })
  } catch (e) {
    throw new AccountError('NetworkError', e instanceof Error ? e.message : String(e))
  }
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null
    throw new AccountError(body?.error?.code ?? `HTTP${response.status}`, body?.error?.message ?? response.statusText, response.status)
  }
  return response
}

/** Download the export as `chatgalaxy-export.json`; returns its size in bytes. */
export async function exportAccount(): Promise<number> {
  const blob = await (await call('/api/account/export', { method: 'GET' })).blob()
  saveFile(blob, 'chatgalaxy-export.json')
  return blob.size
}

/** Delete the account. A request whose answer was lost (no response, or a 502/503/504) may have
 * deleted it: Auth is asked whether the account is still there (a deleted one is `user_not_found`)
 * and the request is sent again only while it is, so a deleted account is reported deleted, not
 * refused for a password its own deletion made unknown. */
export async function deleteAccount(password: string | null): Promise<void> {
  const body = JSON.stringify(password === null ? {} : { password }) // a guest has none: the session is the key
  const request = () => call('/api/account', { method: 'DELETE', headers: { 'Content-Type': 'application/json' }, body })
  await deleteOnce(request, accountGone)
}

/** `request` once done, or `gone()` found it done after an attempt whose answer was lost: storeOnce
 * with "gone" as the look that finds the earlier attempt's effect. */
export async function deleteOnce(request: () => Promise<unknown>, gone: () => Promise<boolean>, waits = RETRY_WAITS_MS): Promise<void> {
  const { error } = await storeOnce(
    () => settled(request()),
    async () => ({ data: (await gone()) ? true : null, error: null, status: 200 }),
    { waits, taken: () => false },
  )
  if (error) throw error
}

/** A request's AccountError as an Outcome (its status 0 when no response came); others rethrown. */
async function settled(request: Promise<unknown>): Promise<Outcome<true>> {
  try {
    await request
    return { data: true, error: null, status: 200 }
  } catch (e) {
    if (e instanceof AccountError) return { data: null, error: e, status: e.status }
    throw e
  }
}

async function accountGone(): Promise<boolean> {
  const { error } = await supabase().auth.getUser()
  return error?.code === 'user_not_found'
}
