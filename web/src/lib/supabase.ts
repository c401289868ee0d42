import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { readConfig } from './config'

/** The one supabase-js client of the app: auth session in localStorage, RLS-scoped queries, realtime. */
let client: SupabaseClient | null = null

export function supabase(): SupabaseClient {
  if (client === null) {
    const config = readConfig()
    client = createClient(config.supabaseUrl, config.supabaseAnonKey, {
      auth: { persistSession: true, autoRefreshToken: true, storageKey: 'chatgalaxy-auth' },
      realtime: { params: { eventsPerSecond: 50 } },
    })
  }
  return client
}
