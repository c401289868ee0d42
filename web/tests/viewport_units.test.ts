/**
 * A box sized by the screen's height uses the dynamic viewport (dvh): on a phone 100vh is the screen
 * with the browser's bars hidden, taller than what shows while they are out, so a bottom sheet of
 * 90vh had its top (its title and ×) past the screen's top edge. Each vh height in the sources comes
 * with its dvh twin (vh stays as the fallback for browsers without dvh).
 */
import { describe, expect, it } from 'vitest'

const sources = import.meta.glob('../src/**/*.{vue,ts,css}', { query: '?raw', import: 'default', eager: true }) as Record<string, string>

describe('heights from the viewport', () => {
  it('use dynamic viewport units', () => {
    const alone: string[] = []
    for (const [path, source] of Object.entries(sources)) {
      for (const match of source.matchAll(/\b((?:max-|min-)?h)-\[(\d+)vh\]/g)) {
        const [, property, amount] = match
        if (!source.includes(`${property}-[${amount}dvh]`)) alone.push(`${path}: ${match[0]}`)
      }
    }
    expect(alone).toEqual([])
  })
})
