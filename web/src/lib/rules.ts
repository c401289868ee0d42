/**
 * The sign-up rules, checked as the user types. They mirror the server's: the username check
 * constraints (`public.username_width`, migrations/..._profiles.sql: 3-50 where a wide CJK
 * character counts as two; no control or format character) and the auth server's password rule
 * (8+ characters with a letter and a digit).
 */

// The same ranges as public.username_width: characters in them count twice.
const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u

export const USERNAME_MIN_WIDTH = 3
export const USERNAME_MAX_WIDTH = 50
export const PASSWORD_MIN_LENGTH = 8

export function usernameWidth(name: string): number {
  let width = 0
  for (const ch of name) width += WIDE.test(ch) ? 2 : 1
  return width
}

export type UsernameProblem = 'empty' | 'spaces' | 'unprintable' | 'tooShort' | 'tooLong'

// Control and invisible format characters (Unicode Cc, Cf), which the database refuses in a name
// (migrations/..._names_and_prompts_without_control_characters.sql): a line break, a zero-width space.
const UNPRINTABLE = /[\p{Cc}\p{Cf}]/u

export function usernameProblem(name: string): UsernameProblem | null {
  if (name.length === 0) return 'empty'
  if (name !== name.trim()) return 'spaces'
  if (UNPRINTABLE.test(name)) return 'unprintable'
  const width = usernameWidth(name)
  if (width < USERNAME_MIN_WIDTH) return 'tooShort'
  if (width > USERNAME_MAX_WIDTH) return 'tooLong'
  return null
}

export interface PasswordChecks {
  length: boolean
  letter: boolean
  digit: boolean
}

export function passwordChecks(password: string): PasswordChecks {
  return {
    length: Array.from(password).length >= PASSWORD_MIN_LENGTH,
    letter: /[A-Za-z]/.test(password),
    digit: /[0-9]/.test(password),
  }
}

export function passwordOk(password: string): boolean {
  const checks = passwordChecks(password)
  return checks.length && checks.letter && checks.digit
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

/**
 * The address a user typed, as it is checked and sent: NFKC, so what a Chinese keyboard's
 * full-width mode types (＠, ａｎｎ, ．, １２３) is the ASCII the user means, and in the domain an
 * ideographic full stop (。, typed for a dot in Chinese mode) read as a dot, as browsers read a
 * domain name (UTS #46); the spaces round it dropped.
 */
export function emailAddress(email: string): string {
  const typed = email.normalize('NFKC').trim()
  const at = typed.lastIndexOf('@')
  return at < 0 ? typed : typed.slice(0, at + 1) + typed.slice(at + 1).replace(/\u3002/g, '.')
}

export function emailOk(email: string): boolean {
  return EMAIL.test(emailAddress(email))
}

/** A custom role's slug (ai_roles.slug: `^[a-z0-9][a-z0-9_-]{1,63}$`), from its name when it can be. */
export function slugFor(name: string, random: () => string = () => Math.random().toString(36).slice(2, 8)): string {
  const base = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
  return `${base ? base + '-' : 'role-'}${random()}`
}

/** The first out-of-range role setting (the database refuses the same, ai_roles_check_personality), or null. */
export function personalityProblem(p: { temperature?: number; top_p?: number; max_tokens?: number }): 'temperature' | 'top_p' | 'max_tokens' | null {
  if (p.temperature !== undefined && !(p.temperature >= 0 && p.temperature < 2)) return 'temperature'
  if (p.top_p !== undefined && !(p.top_p > 0 && p.top_p <= 1)) return 'top_p'
  if (p.max_tokens !== undefined && !(Number.isInteger(p.max_tokens) && p.max_tokens >= 1 && p.max_tokens <= 65536)) {
    return 'max_tokens'
  }
  return null
}

/** What an authenticator code field keeps of what was typed or pasted: its digits, full-width ones
 *  (a Chinese keyboard's １２３) as ASCII, six at most ("123 456" copied from an app is 123456). */
export function codeDigits(text: string): string {
  return text
    .replace(/[\uff10-\uff19]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0))
    .replace(/\D/g, '')
    .slice(0, 6)
}
