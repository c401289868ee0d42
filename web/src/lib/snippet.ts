/**
 * A search hit's text around the first matching term, split into plain and highlighted
 * segments so the page renders it without HTML. English matches are stemmed by the database,
 * so a term may not occur literally: then the start of the message is shown.
 */
export interface Segment {
  text: string
  hit: boolean
}

/** Han, kana and hangul runs, as the database cuts a query (public.search_cjk_pattern()). */
const CJK_RUN = /([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+)/

/** The query's terms as the database reads them: its words, a Chinese (or Japanese, Korean) run
 *  apart from the letters beside it (`Python教程` is `Python` and `教程`), punctuation alone no term. */
export function terms(query: string): string[] {
  const found: string[] = []
  for (const word of query.split(/\s+/)) {
    const bare = word.replace(/^["'-]+|["']+$/g, '')
    if (bare.toLowerCase() === 'or') continue
    for (const part of bare.split(CJK_RUN)) if (/[\p{L}\p{N}]/u.test(part)) found.push(part)
  }
  return found
}

const isHigh = (unit: number) => unit >= 0xd800 && unit <= 0xdbff
const isLow = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff

export function snippet(content: string, query: string, radius = 60): Segment[] {
  const words = [...new Set(terms(query))].sort((a, b) => b.length - a.length) // the longest term first where two overlap
  const pattern = words.length
    ? new RegExp(`(${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`, 'giu')
    : null
  // Where the first term is, found in the text itself (lowercasing can change a text's length).
  const first = pattern ? content.search(pattern) : -1
  let start = first < 0 ? 0 : Math.max(0, first - radius)
  let end = Math.min(content.length, (first < 0 ? 0 : first) + radius * 2)
  // Never half of a surrogate pair (an emoji, a rare Han character) at either edge.
  if (start > 0 && isLow(content.charCodeAt(start))) start -= 1
  if (end < content.length && isHigh(content.charCodeAt(end - 1))) end += 1
  const window = (start > 0 ? '…' : '') + content.slice(start, end) + (end < content.length ? '…' : '')
  if (!pattern) return [{ text: window, hit: false }]
  // Split by a pattern with one group: the matches are the odd parts.
  return window
    .split(pattern)
    .map((text, i) => ({ text, hit: i % 2 === 1 }))
    .filter((part) => part.text !== '')
}
