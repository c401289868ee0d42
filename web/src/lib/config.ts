/**
 * Where Supabase and the API are. The static server writes `/config.js` from the project's
 * settings at request time, so one build works against the local stack or a hosted project;
 * `vite dev` falls back to VITE_* variables.
 */
export interface AppConfig {
  supabaseUrl: string
  supabaseAnonKey: string
  apiUrl: string
}

export function readConfig(
  runtime: RuntimeConfig | undefined = typeof window === 'undefined' ? undefined : window.__CHATGALAXY_CONFIG__,
  env: ImportMetaEnv = import.meta.env,
): AppConfig {
  return {
    supabaseUrl: runtime?.supabaseUrl || env.VITE_SUPABASE_URL || 'http://127.0.0.1:54321',
    supabaseAnonKey: runtime?.supabaseAnonKey || env.VITE_SUPABASE_ANON_KEY || '',
    apiUrl: runtime?.apiUrl || env.VITE_API_URL || 'http://127.0.0.1:8000',
  }
}
