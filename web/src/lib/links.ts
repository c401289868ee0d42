/**
 * Addresses that may become links. A web source's `url` comes from the search service (through the
 * worker, a share or the API), not from our own code: only an absolute http(s) address is linked,
 * as the browser would parse it (tabs, line breaks and leading spaces stripped), so a `javascript:`,
 * `data:` or any other scheme never reaches an `href` (Vue binds one as given).
 */
export function webLink(url: unknown): string | null {
  if (typeof url !== 'string') return null
  try {
    const parsed = new URL(url)
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null
  } catch {
    return null
  }
}
