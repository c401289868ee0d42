/// <reference types="vite/client" />

declare module '*.vue' {
  import type { DefineComponent } from 'vue'
  const component: DefineComponent<object, object, unknown>
  export default component
}

interface RuntimeConfig {
  supabaseUrl?: string
  supabaseAnonKey?: string
  apiUrl?: string
}

interface Window {
  __CHATGALAXY_CONFIG__?: RuntimeConfig
}

interface ImportMetaEnv {
  readonly VITE_SUPABASE_URL?: string
  readonly VITE_SUPABASE_ANON_KEY?: string
  readonly VITE_API_URL?: string
}
