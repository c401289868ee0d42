/**
 * The account as a whole, through the ChatGalaxy API (`/api/account`): export everything as one
 * JSON file, and delete the account after the password is entered again (the API proves it with
 * a fresh sign-in, then deletes with Auth's admin API).
 */
import { readConfig } from './config'
import { supabase } from './supabase'

export class AccountError extends Error {
  constructor(
    public code: string,
    message: string,
  ) {
    super(message)
  }
}

async function call(path: string, init: RequestInit): Promise<Response> {
  const { data } = await supabase().auth.getSession()
  const token = data.session?.access_token
  if (!token) throw new AccountError('NotAuthenticated', 'Not signed in')
  const response = await fetch(`${readConfig().apiUrl}${path}`, {
    ...init,
    headers: { ...(init.headers ?? {}), Authorization: `Bearer ${token}` },
  })
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null
    throw new AccountError(body?.error?.code ?? `HTTP${response.status}`, body?.error?.message ?? response.statusText)
  }
  return response
}

/** Download the export as `chatgalaxy-export.json`; returns its size in bytes. */
export async function exportAccount(): Promise<number> {
  const blob = await (await call('/api/account/export', { method: 'GET' })).blob()
  const url = URL.createObjectURL(blob)
  const link = document.createElement('a')
  link.href = url
  link.download = 'chatgalaxy-export.json'
  document.body.appendChild(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
  return blob.size
}

export async function deleteAccount(password: string): Promise<void> {
  await call('/api/account', {
    method: 'DELETE',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ password }),
  })
}
