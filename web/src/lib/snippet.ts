/**
 * A search hit's text around the first matching term, split into plain and highlighted
 * segments so the page renders it without HTML. English matches are stemmed by the database,
 * so a term may not occur literally: then the start of the message is shown.
 */
export interface Segment {
  text: string
  hit: boolean
}

export function terms(query: string): string[] {
  return query
    .split(/\s+/)
    .map((term) => term.replace(/^["'-]+|["']+$/g, ''))
    .filter((term) => term.length > 0 && term.toLowerCase() !== 'or')
}

export function snippet(content: string, query: string, radius = 60): Segment[] {
  const words = terms(query)
  const lower = content.toLowerCase()
  let first = -1
  for (const word of words) {
    const at = lower.indexOf(word.toLowerCase())
    if (at >= 0 && (first < 0 || at < first)) first = at
  }
  const start = first < 0 ? 0 : Math.max(0, first - radius)
  const end = Math.min(content.length, (first < 0 ? 0 : first) + radius * 2)
  const window = (start > 0 ? '…' : '') + content.slice(start, end) + (end < content.length ? '…' : '')
  if (words.length === 0) return [{ text: window, hit: false }]
  const pattern = new RegExp(`(${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})`, 'gi')
  return window
    .split(pattern)
    .filter((part) => part !== '')
    .map((part) => ({ text: part, hit: words.some((w) => w.toLowerCase() === part.toLowerCase()) }))
}
