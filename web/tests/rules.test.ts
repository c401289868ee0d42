import { describe, expect, it } from 'vitest'
import { emailOk, passwordChecks, passwordOk, slugFor, usernameProblem, usernameWidth } from '@/lib/rules'

describe('username rule (public.username_width)', () => {
  it('counts a CJK character as two', () => {
    expect(usernameWidth('张三')).toBe(4)
    expect(usernameWidth('abc')).toBe(3)
    expect(usernameWidth('李a')).toBe(3)
    expect(usernameWidth('한국')).toBe(4)
    expect(usernameWidth('ｆｕｌｌ')).toBe(8) // fullwidth forms are wide too
  })

  it("accepts the seed's own example and rejects what the database rejects", () => {
    expect(usernameProblem('张三')).toBeNull()
    expect(usernameProblem('张')).toBe('tooShort')
    expect(usernameProblem('ab')).toBe('tooShort')
    expect(usernameProblem('')).toBe('empty')
    expect(usernameProblem(' bob')).toBe('spaces')
    expect(usernameProblem('bob ')).toBe('spaces')
    expect(usernameProblem('ab\ncd')).toBe('unprintable')
    expect(usernameProblem('ab\u200bcd')).toBe('unprintable') // a zero-width space
    expect(usernameProblem('ab cd')).toBeNull()
    expect(usernameProblem('x'.repeat(50))).toBeNull()
    expect(usernameProblem('x'.repeat(51))).toBe('tooLong')
    expect(usernameProblem('汉'.repeat(25))).toBeNull()
    expect(usernameProblem('汉'.repeat(26))).toBe('tooLong')
  })

  it('counts astral characters once, like char_length', () => {
    expect(usernameWidth('a😀b')).toBe(3)
  })
})

describe('password rule', () => {
  it('needs 8 characters, a letter and a digit', () => {
    expect(passwordChecks('')).toEqual({ length: false, letter: false, digit: false })
    expect(passwordChecks('abc')).toEqual({ length: false, letter: true, digit: false })
    expect(passwordChecks('12345678')).toEqual({ length: true, letter: false, digit: true })
    expect(passwordOk('password123')).toBe(true)
    expect(passwordOk('password')).toBe(false)
    expect(passwordOk('pass123')).toBe(false)
    expect(passwordOk('密码密码密码12')).toBe(false) // the server's letters are ASCII
  })
})

describe('email and slug', () => {
  it('checks email shape', () => {
    expect(emailOk('a@b.co')).toBe(true)
    expect(emailOk(' a@b.co ')).toBe(true)
    expect(emailOk('a@b')).toBe(false)
    expect(emailOk('a b@c.d')).toBe(false)
  })

  it('makes slugs the ai_roles check accepts', () => {
    const rule = /^[a-z0-9][a-z0-9_-]{1,63}$/
    for (const name of ['Poet Bot', '诗人', '  ', 'Ünïcode Ñame!!', 'x'.repeat(200)]) {
      expect(slugFor(name)).toMatch(rule)
    }
    expect(slugFor('Poet Bot', () => 'abc123')).toBe('poet-bot-abc123')
    expect(slugFor('诗人', () => 'abc123')).toBe('role-abc123')
  })
})
