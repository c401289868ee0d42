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

  it('never cuts an emoji or a rare Han character in half at the edges', () => {
    const text = `x${'😀'.repeat(30)}需要𠮷${'𠮷'.repeat(30)}`
    for (let radius = 3; radius < 20; radius++) {
      const parts = snippet(text, '需要', radius)
      expect(parts.find((p) => p.hit)?.text).toBe('需要')
      for (const part of parts) expect(() => encodeURIComponent(part.text)).not.toThrow() // no lone surrogate
    }
  })

  it('reads Chinese beside English and punctuation as the database does', () => {
    expect(terms('Python教程')).toEqual(['Python', '教程'])
    expect(terms('你好，世界！')).toEqual(['你好', '世界'])
    const parts = snippet('这是一个 Python 的入门教程', 'Python教程')
    expect(parts.filter((p) => p.hit).map((p) => p.text)).toEqual(['Python', '教程'])
  })

  it('finds the term where it is when lowercasing changes the text’s length', () => {
    const text = `${'İ'.repeat(40)} ${'y'.repeat(30)} needle ${'z'.repeat(30)}`
    const parts = snippet(text, 'needle', 10)
    expect(parts.find((p) => p.hit)?.text).toBe('needle')
  })
})

describe('snippet, with the text folded as the database folds it', () => {
  it('highlights a word found without its accents, or in full-width letters', () => {
    const text = `${'x'.repeat(100)} Un Café à Paris, ＰＹＴＨＯＮ and Straße ${'y'.repeat(100)}`
    const hit = (query: string) => snippet(text, query, 20).filter((p) => p.hit).map((p) => p.text)
    expect(hit('cafe')).toEqual(['Café'])
    expect(hit('python')).toEqual(['ＰＹＴＨＯＮ'])
    expect(hit('strasse')).toEqual(['Straße'])
    expect(snippet('un cafe noir', 'café').filter((p) => p.hit).map((p) => p.text)).toEqual(['cafe'])
    // the window is cut around the hit, in the text as written
    expect(snippet(text, 'cafe', 20).map((p) => p.text).join('')).toContain('Un Café à Paris')
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
