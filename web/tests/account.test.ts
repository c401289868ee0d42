/**
 * Deleting the account when the answer can be lost: an attempt that got no response (or a
 * 502/503/504) may have deleted it, so Auth is asked first and the request is repeated only while
 * the account is still there; refusals come back at once. The service journey does the same through
 * the real stack (web/e2e/service.mjs, "delete the account").
 */
import { describe, expect, it } from 'vitest'
import { AccountError, deleteOnce } from '@/lib/account'

function server(fates: (AccountError | 'ok')[], goneAfter: number) {
  const calls = { request: 0, gone: 0 }
  const request = () => {
    calls.request += 1
    const fate = fates.shift() ?? 'ok'
    return fate === 'ok' ? Promise.resolve() : Promise.reject(fate)
  }
  const gone = () => {
    calls.gone += 1
    return Promise.resolve(calls.request >= goneAfter)
  }
  return { request, gone, calls }
}

const lost = new AccountError('NetworkError', 'Failed to fetch', 0)

describe('deleteOnce', () => {
  it('deletes at once without asking', async () => {
    const { request, gone, calls } = server(['ok'], 1)
    await deleteOnce(request, gone, [0, 0])
    expect(calls).toEqual({ request: 1, gone: 0 })
  })

  it('takes an account found gone after a lost answer as deleted, without sending again', async () => {
    const { request, gone, calls } = server([lost], 1)
    await deleteOnce(request, gone, [0, 0])
    expect(calls).toEqual({ request: 1, gone: 1 })
  })

  it('sends again while the account is still there', async () => {
    const { request, gone, calls } = server([new AccountError('UpstreamUnavailable', 'down', 503), 'ok'], 99)
    await deleteOnce(request, gone, [0, 0])
    expect(calls).toEqual({ request: 2, gone: 1 })
  })

  it('returns a refusal at once', async () => {
    const { request, gone, calls } = server([new AccountError('InvalidPassword', 'wrong', 401)], 99)
    await expect(deleteOnce(request, gone, [0, 0])).rejects.toMatchObject({ code: 'InvalidPassword' })
    expect(calls).toEqual({ request: 1, gone: 0 })
  })

  it('gives up in doubt after the last wait', async () => {
    const { request, gone, calls } = server([lost, lost, lost], 99)
    await expect(deleteOnce(request, gone, [0, 0])).rejects.toBe(lost)
    expect(calls).toEqual({ request: 3, gone: 2 })
  })
})
