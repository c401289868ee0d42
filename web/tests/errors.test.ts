/** How errors are worded (lib/errors.ts), failed answers (lib/answerFailure.ts) and plan names (lib/usage.ts). */
import { describe, expect, it } from 'vitest'
import { makeI18n } from '@/i18n'
import { describeError, errorParts, errorText } from '@/lib/errors'
import { answerFailure } from '@/lib/answerFailure'
import { planName } from '@/lib/usage'
import { AccountError } from '@/lib/account'

const zh = makeI18n('zh-CN').global
const en = makeI18n('en').global

describe('errorText', () => {
  it('keeps the translations it knows', () => {
    expect(errorText({ code: 'invalid_credentials', message: 'Invalid login credentials' }, zh.t)).toBe('邮箱或密码错误')
    expect(errorText({ code: 'QuotaExceeded', message: 'quota' }, en.t)).toBe(en.t('usage.quotaExceeded'))
    const noEyes = { code: 'VisionModelNotAllowed', message: 'Your plan includes no model that reads images.' }
    expect(errorText(noEyes, zh.t)).toBe('当前套餐不包含能识别图片的模型，请去掉图片后再发送')
    expect(errorText(noEyes, en.t)).toBe('Your plan includes no model that reads images: send the question without them')
    expect(errorText({ code: 'GuestNotAllowed', message: 'Sign up to create API keys' }, zh.t)).toBe('访客不能创建 API 密钥，注册后即可创建')
    const tooLong = { code: 'SearchTooLong', message: 'A search is at most 1000 characters.', details: '{"limit": 1000}' }
    expect(errorText(tooLong, zh.t)).toBe('搜索内容最多 1000 个字符，请缩短')
    expect(errorText(tooLong, en.t)).toBe('A search is at most 1000 characters: shorten it')
  })

  it('says a request that got no response is a network failure, however the browser words it', () => {
    for (const error of [
      new TypeError('Failed to fetch'),
      { message: 'TypeError: Failed to fetch', details: '', hint: '', code: '' }, // postgrest-js
      { message: 'NetworkError when attempting to fetch resource.', code: '' },
      { name: 'AuthRetryableFetchError', message: '{}', status: 0 },
      new AccountError('NetworkError', 'Load failed'),
    ]) {
      expect(errorText(error, zh.t)).toBe(zh.t('common.network'))
    }
  })

  it('words the database refusals sent as a message prefix', () => {
    const guest = { code: 'PT403', message: 'GuestLimitReached: sign up to ask for more answers' }
    expect(errorText(guest, zh.t)).toBe(zh.t('guest.limitReached'))
    expect(describeError({ code: 'P0001', message: 'QuestionNotFound: no such question' }).key).toBe('trees.questionGone')
    expect(describeError({ code: 'P0001', message: 'StaleAnswerNumber: the next answer is number 3' }).key).toBe('trees.answerAskedMeanwhile')
  })

  it('words the API codes of the account calls', () => {
    expect(errorText(new AccountError('RateLimited', 'slow down', 429), en.t)).toBe(en.t('auth.rateLimited'))
    expect(errorText(new AccountError('NotAuthenticated', 'Not signed in'), en.t)).toBe(en.t('auth.signedOut'))
    expect(errorText(new AccountError('HTTP502', 'Bad Gateway', 502), en.t)).toBe(en.t('common.serverError'))
    expect(errorText(Object.assign(new Error('not found'), { code: 'NotFound' }), zh.t)).toBe(zh.t('common.notFound'))
  })

  it('shows an unknown error as "something went wrong" with the server text beside it', () => {
    const rls = { code: '42501', message: 'new row violates row-level security policy for table "x"' }
    expect(errorParts(rls, zh.t)).toEqual({ text: '出错了', detail: rls.message })
    expect(errorText(rls, zh.t)).toBe(`出错了（${rls.message}）`)
    expect(errorText(rls, en.t)).toBe(`Something went wrong (${rls.message})`)
    expect(errorParts({ message: 'x'.repeat(400) }, en.t).detail).toHaveLength(301)
    expect(errorText({ code: 'constructor', message: 'constructor: odd' }, en.t)).toBe('Something went wrong (constructor: odd)')
  })
})

describe('answerFailure', () => {
  it("gives every code the worker and the database set in the reader's language, else the stored message", () => {
    const codes = [
      'InvalidApiKey', 'AccessDenied', 'ModelNotFound', 'InvalidRequest', 'InputTooLong', 'ImageUnreachable', 'ContentFiltered',
      'QuotaExhausted', 'RateLimited', 'ServerError', 'ServiceUnavailable', 'Timeout', 'ConnectionError', 'IncompleteStream',
      'DocumentTooLong', 'DocumentUnreadable', 'DocumentTooComplex', 'DocumentUnsupported', 'AttachmentUnavailable', 'TurnTimeout', 'InterruptedAnswer', 'WorkerError',
      'AttemptsExhausted', 'ModelNotAllowed', 'FeatureNotAllowed', 'VisionModelNotAllowed', 'AccountDisabled',
    ]
    for (const code of codes) {
      const shown = answerFailure({ errorCode: code, errorMessage: 'stored' }, zh.t, zh.te)
      expect(shown, code).not.toBe('stored')
      expect(shown, code).toMatch(/[\u4e00-\u9fff]/)
    }
    expect(answerFailure({ errorCode: 'SomethingNew', errorMessage: 'stored' }, zh.t, zh.te)).toBe('stored')
    expect(answerFailure({ errorCode: null, errorMessage: null }, zh.t, zh.te)).toBeNull()
  })
})

describe('planName', () => {
  it('translates the known plans and keeps an admin-made one as stored', () => {
    expect(planName({ id: 'free', name: 'Free' }, zh.t, zh.te)).toBe('免费版')
    expect(planName({ id: 'unlimited', name: 'Unlimited' }, en.t, en.te)).toBe('Unlimited')
    expect(planName({ id: 'team', name: 'Team' }, zh.t, zh.te)).toBe('Team')
  })
})
