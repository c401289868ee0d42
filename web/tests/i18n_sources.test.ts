/**
 * The sources against the locale files: every key a component or module asks for by name exists in
 * both languages, no template shows words that are not from a locale file, and every button and
 * link has a name a screen reader can say (its words, an aria-label, or a picture's alt text); an
 * icon-only control (an avatar, a glyph) needs an aria-label from the locale files; every field has
 * a name too (its <label>, or an aria-label).
 */
import { describe, expect, it } from 'vitest'
import { parse } from 'vue/compiler-sfc'
import zh from '@/i18n/zh'
import en from '@/i18n/en'

const sources = import.meta.glob('../src/**/*.{vue,ts}', { query: '?raw', import: 'default', eager: true }) as Record<string, string>
const components = Object.entries(sources).filter(([path]) => path.endsWith('.vue'))

/** A template node as @vue/compiler-core gives it (only the fields read here). */
interface Node {
  type: number // 1 element, 2 text, 5 interpolation
  tag?: string
  content?: string
  props?: { type: number; name: string; value?: { content: string }; arg?: { content: string } }[]
  children?: Node[]
  loc: { start: { line: number } }
}
const ELEMENT = 1
const TEXT = 2
const INTERPOLATION = 5
const ATTRIBUTE = 6
const DIRECTIVE = 7

function template(source: string): Node | null {
  const { descriptor } = parse(source)
  return (descriptor.template?.ast as unknown as Node | undefined) ?? null
}

function walk(node: Node, visit: (node: Node) => void): void {
  visit(node)
  for (const child of node.children ?? []) walk(child, visit)
}

const words = /[A-Za-z\u4e00-\u9fff]/
/** Words a template may show as they are: each language named in itself (the language picker). */
const ALLOWED_TEXT = new Set(['中文', 'English'])
const ALLOWED_ATTRIBUTE = /^https?:\/\/$/

function attribute(node: Node, name: string): boolean {
  return (node.props ?? []).some(
    (p) => (p.type === ATTRIBUTE && p.name === name && !!p.value?.content.trim()) || (p.type === DIRECTIVE && p.name === 'bind' && p.arg?.content === name),
  )
}

/** Whether a control's contents give it a name: words, an interpolation, or an image with alt text. */
function named(node: Node): boolean {
  if (node.type === INTERPOLATION) return true
  if (node.type === TEXT) return words.test(node.content ?? '')
  if (node.type !== ELEMENT) return false
  if (attribute(node, 'aria-label') || attribute(node, 'aria-labelledby')) return true
  if (node.tag === 'img') return attribute(node, 'alt')
  return (node.children ?? []).some(named)
}

function lookup(messages: object, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined), messages)
}

describe('the sources and the locale files', () => {
  it('finds the sources', () => {
    expect(components.length).toBeGreaterThan(30)
  })

  it('asks only for keys both languages have', () => {
    const missing: string[] = []
    let asked = 0
    for (const [path, source] of Object.entries(sources)) {
      for (const match of source.matchAll(/\b(?:t|te|\$t)\(\s*'([a-zA-Z][\w.]*)'/g)) {
        const key = match[1]!
        asked += 1
        for (const [name, messages] of [['zh', zh], ['en', en]] as const) {
          if (typeof lookup(messages, key) !== 'string') missing.push(`${path}: ${key} (${name})`)
        }
      }
    }
    expect(asked).toBeGreaterThan(300)
    expect(missing).toEqual([])
  })

  it('shows no words in a template that are not from the locale files', () => {
    const found: string[] = []
    for (const [path, source] of components) {
      const root = template(source)
      if (!root) continue
      walk(root, (node) => {
        if (node.type === TEXT && words.test(node.content ?? '') && !ALLOWED_TEXT.has((node.content ?? '').trim())) {
          found.push(`${path}:${node.loc.start.line} ${JSON.stringify(node.content?.trim())}`)
        }
        for (const p of node.props ?? []) {
          if (p.type !== ATTRIBUTE || !['placeholder', 'title', 'aria-label', 'alt', 'label'].includes(p.name)) continue
          const value = p.value?.content ?? ''
          if (words.test(value) && !ALLOWED_ATTRIBUTE.test(value)) found.push(`${path}:${node.loc.start.line} ${p.name}="${value}"`)
        }
      })
    }
    expect(found).toEqual([])
  })

  it('names every button and link', () => {
    const unnamed: string[] = []
    for (const [path, source] of components) {
      const root = template(source)
      if (!root) continue
      walk(root, (node) => {
        if (node.type === ELEMENT && ['button', 'a', 'RouterLink'].includes(node.tag ?? '') && !named(node)) {
          unnamed.push(`${path}:${node.loc.start.line} <${node.tag}>`)
        }
      })
    }
    expect(unnamed).toEqual([])
  })

  it('names every dialog and every group of choices (a screen reader says what the group is for)', () => {
    const unnamed: string[] = []
    for (const [path, source] of components) {
      const root = template(source)
      if (!root) continue
      walk(root, (node) => {
        const role = (node.props ?? []).find((p) => p.type === ATTRIBUTE && p.name === 'role')?.value?.content ?? ''
        if (node.type === ELEMENT && ['dialog', 'radiogroup', 'tablist'].includes(role) && !attribute(node, 'aria-label') && !attribute(node, 'aria-labelledby')) {
          unnamed.push(`${path}:${node.loc.start.line} [role=${role}]`)
        }
      })
    }
    expect(unnamed).toEqual([])
  })

  it('names every field (a placeholder is a hint that goes once typing starts, not a name)', () => {
    // A field is named by the <label> round it or by aria-label / aria-labelledby; a hidden file
    // input is reached through its button.
    const unnamed: string[] = []
    // CodeInput's one input is named where it is used (a <label> round it, or an aria-label).
    const byCaller = new Set(['../src/components/CodeInput.vue'])
    const visit = (node: Node, labelled: boolean): void => {
      if (node.type !== ELEMENT) {
        for (const child of node.children ?? []) visit(child, labelled) // the root, a v-if branch
        return
      }
      const inLabel = labelled || node.tag === 'label'
      const field = ['input', 'textarea', 'select'].includes(node.tag ?? '')
      const file = (node.props ?? []).some((p) => p.type === ATTRIBUTE && p.name === 'type' && p.value?.content === 'file')
      if (field && !file && !inLabel && !attribute(node, 'aria-label') && !attribute(node, 'aria-labelledby')) {
        unnamed.push(`${node.tag}:${node.loc.start.line}`)
      }
      for (const child of node.children ?? []) visit(child, inLabel)
    }
    for (const [path, source] of components) {
      const root = template(source)
      if (!root || byCaller.has(path)) continue
      const before = unnamed.length
      visit(root, false)
      for (let i = before; i < unnamed.length; i++) unnamed[i] = `${path} <${unnamed[i]}>`
    }
    expect(unnamed).toEqual([])
  })
})
