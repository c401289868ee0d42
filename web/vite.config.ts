/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url'
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'

// Routes are lazy-loaded (src/router), so each page is its own chunk; the heavy shared libraries
// get stable vendor chunks so a change in app code does not invalidate them.
// `vite dev` has no webserve in front of it: answer /config.js from the environment instead.
function devRuntimeConfig(): Plugin {
  return {
    name: 'chatgalaxy-dev-config',
    configureServer(server) {
      server.middlewares.use('/config.js', (_req, res) => {
        const config = {
          supabaseUrl: process.env.SUPABASE_URL ?? 'http://127.0.0.1:54321',
          supabaseAnonKey: process.env.SUPABASE_ANON_KEY ?? '',
          apiUrl: process.env.API_URL ?? 'http://127.0.0.1:8000',
        }
        res.setHeader('Content-Type', 'text/javascript; charset=utf-8')
        res.end(`window.__CHATGALAXY_CONFIG__ = ${JSON.stringify(config)};\n`)
      })
    },
  }
}

export default defineConfig({
  plugins: [vue(), devRuntimeConfig()],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: { host: '127.0.0.1', port: 5173 },
  build: {
    target: 'es2020',
    chunkSizeWarningLimit: 700,
    rollupOptions: {
      output: {
        manualChunks(id: string): string | undefined {
          if (!id.includes('node_modules')) return undefined
          if (id.includes('element-plus') || id.includes('@element-plus')) return 'vendor-element'
          if (id.includes('@supabase')) return 'vendor-supabase'
          if (id.includes('highlight.js') || id.includes('markdown-it') || id.includes('dompurify')) return 'vendor-markdown'
          if (id.includes('katex') || id.includes('@mdit')) return 'vendor-markdown'
          if (id.includes('/vue') || id.includes('@vue') || id.includes('pinia') || id.includes('@intlify')) return 'vendor-vue'
          return undefined
        },
      },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
    setupFiles: ['tests/setup.ts'],
  },
})
