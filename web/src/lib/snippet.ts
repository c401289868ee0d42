/**
 * A search hit's text around the first matching term, split into plain and highlighted
 * segments so the page renders it without HTML. English matches are stemmed by the database,
 * so a term may not occur literally: then the start of the message is shown. Terms are found in
 * the text folded as the database folds it (search_fold: compatibility forms, accents off), so
 * `cafe` highlights `Café` and `python` `ＰＹＴＨＯＮ`; the segments are the text as written.
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

/** Letters unaccent spells out (PostgreSQL's unaccent.rules) that are no base letter and marks. */
const SPELLED: Record<string, string> = {
  ß: 'ss', ẞ: 'SS', æ: 'ae', Æ: 'AE', œ: 'oe', Œ: 'OE', ø: 'o', Ø: 'O', đ: 'd', Đ: 'D',
  ł: 'l', Ł: 'L', ħ: 'h', Ħ: 'H', ı: 'i', þ: 'th', Þ: 'TH',
}

/** `text` folded (compatibility decomposition, marks dropped, SPELLED spelled out), and for each
 *  unit of the folded text the index in `text` of the character it came from (one more at the end). */
export function fold(text: string): { folded: string; from: number[] } {
  let folded = ''
  const from: number[] = []
  let at = 0
  for (const ch of text) {
    const f = ch < '\u0080' ? ch : (SPELLED[ch] ?? ch.normalize('NFKD').replace(/\p{M}/gu, ''))
    for (let k = 0; k < f.length; k++) from.push(at)
    folded += f
    at += ch.length
  }
  from.push(at)
  return { folded, from }
}

export function snippet(content: string, query: string, radius = 60): Segment[] {
  // the longest term first where two overlap
  const words = [...new Set(terms(query).map((w) => fold(w).folded))].filter(Boolean).sort((a, b) => b.length - a.length)
  const spans: [number, number][] = [] // where the terms are, in `content` as written
  if (words.length) {
    const pattern = new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'giu')
    const { folded, from } = fold(content)
    for (const m of folded.matchAll(pattern)) {
      const i = m.index ?? 0
      if (m[0] !== '') spans.push([from[i] ?? 0, from[i + m[0].length] ?? content.length])
    }
  }
  const first = spans[0]?.[0] ?? -1
  let start = first < 0 ? 0 : Math.max(0, first - radius)
  let end = Math.min(content.length, (first < 0 ? 0 : first) + radius * 2)
  // Never half of a surrogate pair (an emoji, a rare Han character) at either edge.
  if (start > 0 && isLow(content.charCodeAt(start))) start -= 1
  if (end < content.length && isHigh(content.charCodeAt(end - 1))) end += 1
  const parts: Segment[] = []
  let at = start
  for (const [s, e] of spans) {
    const a = Math.max(s, at)
    const b = Math.min(e, end)
    if (a >= b) continue // outside the window, or within a hit already shown
    if (a > at) parts.push({ text: content.slice(at, a), hit: false })
    parts.push({ text: content.slice(a, b), hit: true })
    at = b
  }
  if (at < end || parts.length === 0) parts.push({ text: content.slice(at, end), hit: false })
  if (start > 0) {
    if (parts[0] && !parts[0].hit) parts[0] = { text: `…${parts[0].text}`, hit: false }
    else parts.unshift({ text: '…', hit: false })
  }
  if (end < content.length) {
    const last = parts[parts.length - 1]
    if (last && !last.hit) parts[parts.length - 1] = { text: `${last.text}…`, hit: false }
    else parts.push({ text: '…', hit: false })
  }
  return parts.filter((part) => part.text !== '')
}
