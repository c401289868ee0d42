import { describe, expect, it } from 'vitest'
import { snippet, terms } from '@/lib/snippet'
import { readConfig } from '@/lib/config'
import { describeError } from '@/lib/errors'

describe('snippet', () => {
  it('highlights the terms, case-insensitively', () => {
    expect(snippet('Tell me about Streaming data', 'streaming')).toEqual([
      { text: 'Tell me about ', hit: false },
      { text: 'Streaming', hit: true },
      { text: ' data', hit: false },
    ])
  })

  it('finds Chinese terms and cuts long text around the first hit', () => {
    const text = '前'.repeat(100) + '向量数据库' + '后'.repeat(100)
    const parts = snippet(text, '数据库', 10)
    expect(parts.find((p) => p.hit)?.text).toBe('数据库')
    expect(parts[0]?.text.startsWith('…')).toBe(true)
    expect(parts.at(-1)?.text.endsWith('…')).toBe(true)
  })

  it('treats the query as text, not as a pattern', () => {
    expect(snippet('a (b) c', '(b)').find((p) => p.hit)?.text).toBe('(b)')
    expect(terms('"quoted phrase" or -minus')).toEqual(['quoted', 'phrase', 'minus'])
  })
})

describe('readConfig', () => {
  it('prefers the runtime config written by the server', () => {
    const config = readConfig({ supabaseUrl: 'http://sb', supabaseAnonKey: 'k', apiUrl: 'http://api' }, {} as ImportMetaEnv)
    expect(config).toEqual({ supabaseUrl: 'http://sb', supabaseAnonKey: 'k', apiUrl: 'http://api' })
  })

  it('falls back to build-time variables, then the local defaults', () => {
    const env = { VITE_SUPABASE_ANON_KEY: 'envkey' } as unknown as ImportMetaEnv
    expect(readConfig(undefined, env)).toEqual({
      supabaseUrl: 'http://127.0.0.1:54321',
      supabaseAnonKey: 'envkey',
      apiUrl: 'http://127.0.0.1:8000',
    })
  })
})

describe('describeError', () => {
  it('maps GoTrue codes to messages the user can read', () => {
    expect(describeError({ code: 'invalid_credentials', message: 'Invalid login credentials' }).key).toBe('auth.invalidCredentials')
    expect(describeError({ code: 'user_already_exists', message: 'x' }).key).toBe('auth.emailTaken')
    expect(describeError({ code: 'same_password', message: 'New password should be different from the old password.' }).key).toBe('auth.samePassword')
    expect(describeError({ code: 'user_banned', message: 'User is banned' }).key).toBe('auth.userBanned')
    expect(describeError({ code: '23505', message: 'duplicate key value violates unique constraint "profiles_username_key"' }).key).toBe(
      'auth.usernameTaken',
    )
    expect(describeError(new Error('plain'))).toEqual({ key: null, message: 'plain' })
  })

  it('says an attachment swept before its message was sent is gone, and nothing else 23503 is', () => {
    const gone = 'attachment 6f1c/2b9e/report.pdf does not exist'
    expect(describeError({ code: '23503', message: gone }).key).toBe('files.gone')
    expect(describeError({ code: '23503', message: 'insert or update on table "x" violates foreign key constraint' }).key).toBeNull()
  })
})
