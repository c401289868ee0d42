/**
 * Why an answer failed, as the reader sees it: the worker's and the database's codes
 * (worker/errors.py, `AttemptsExhausted` from the claim) in the UI's language (i18n `answerErrors`),
 * else the stored message. The code itself is for support (a tooltip), not for the text.
 */
export function answerFailure(
  answer: { errorCode: string | null; errorMessage: string | null },
  t: (key: string) => string,
  te: (key: string) => boolean,
): string | null {
  const key = `answerErrors.${answer.errorCode}`
  return answer.errorCode && te(key) ? t(key) : answer.errorMessage
}
