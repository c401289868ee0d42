import { describe, expect, it } from 'vitest'
import { readLanding } from '@/lib/landing'
import { describeError } from '@/lib/errors'

describe('readLanding', () => {
  it('reads a confirmed sign-up from the fragment', () => {
    expect(readLanding('#access_token=a.b.c&expires_in=3600&refresh_token=r&token_type=bearer&type=signup')).toEqual({
      type: 'signup',
      error: null,
      errorCode: null,
      description: null,
      message: null,
    })
  })

  it("reads the first of an address change's two links (no session, a message)", () => {
    const landing = readLanding('#message=Confirmation+link+accepted.+Please+proceed+to+confirm+link+sent+to+the+other+email&sb=')
    expect(landing).toMatchObject({ type: null, error: null, message: expect.stringMatching(/other email$/) })
  })

  it('reads an expired link', () => {
    const landing = readLanding('#error=access_denied&error_code=otp_expired&error_description=Email+link+is+invalid+or+has+expired')
    expect(landing?.errorCode).toBe('otp_expired')
    expect(landing?.description).toBe('Email link is invalid or has expired')
  })

  it('reads a refusal that names only its code, as GoTrue words a 422 (the new address taken meanwhile)', () => {
    const landing = readLanding('#error_code=email_exists&error_description=Email+address+already+registered+by+another+user')
    expect(landing?.error).toBe('email_exists')
    expect(landing?.errorCode).toBe('email_exists')
    expect(landing?.description).toBe('Email address already registered by another user')
  })

  it('ignores fragments that are not from an e-mailed link', () => {
    expect(readLanding('')).toBeNull()
    expect(readLanding('#section-2')).toBeNull()
  })

  it('names the unconfirmed-email refusal', () => {
    expect(describeError({ code: 'email_not_confirmed', message: 'Email not confirmed' }).key).toBe('auth.emailNotConfirmed')
  })
})
