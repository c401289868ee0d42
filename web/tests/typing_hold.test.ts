/**
 * A text field losing the focus leaves the root's data-typing (and data-composing for the chat's
 * composer) until the task that took the focus is over, so what steps aside while typing comes
 * back after a tap on a form's button, not between its touch and its release (lib/typingHold.ts).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { held, holdTyping } from '@/lib/typingHold'

const made: HTMLElement[] = []
function add(html: string): HTMLElement {
  const box = document.createElement('div')
  box.innerHTML = html
  document.body.append(box)
  made.push(box)
  return box
}
afterEach(() => {
  for (const box of made.splice(0)) box.remove()
})

const attributes = (root: HTMLElement) => ({ typing: root.hasAttribute('data-typing'), composing: root.hasAttribute('data-composing') })

describe('held', () => {
  it('names what a text field holds, and nothing for other controls', () => {
    const box = add(
      '<input id="text"><input id="password" type="password"><textarea id="note"></textarea><textarea id="composer" data-composer></textarea>' +
        '<input id="box" type="checkbox"><input id="file" type="file"><button id="go">go</button>',
    )
    const of = (id: string) => held(box.querySelector(`#${id}`))
    expect(of('text')).toEqual(['data-typing'])
    expect(of('password')).toEqual(['data-typing'])
    expect(of('note')).toEqual(['data-typing'])
    expect(of('composer')).toEqual(['data-typing', 'data-composing'])
    expect(of('box')).toEqual([])
    expect(of('file')).toEqual([])
    expect(of('go')).toEqual([])
    expect(held(null)).toEqual([])
  })
})

describe('holdTyping', () => {
  it('holds the root as typing through the task in which a field lost the focus to a button', () => {
    const box = add('<form><input data-testid="email"><button type="submit">log in</button></form>')
    const root = document.documentElement
    const tasks: (() => void)[] = []
    const stop = holdTyping(root, (callback) => tasks.push(callback))
    box.querySelector('input')!.focus()
    expect(attributes(root)).toEqual({ typing: false, composing: false }) // the focus says it (CSS)
    box.querySelector('button')!.focus() // the tap's touch
    expect(attributes(root)).toEqual({ typing: true, composing: false }) // its release and click still see it
    tasks.shift()!()
    expect(attributes(root)).toEqual({ typing: false, composing: false })
    stop()
  })

  it("holds the composer's own attribute too, and a later loss's hold is not cut short by an earlier task", () => {
    const box = add('<textarea data-composer></textarea><input><button>send</button>')
    const root = document.documentElement
    const tasks: (() => void)[] = []
    const stop = holdTyping(root, (callback) => tasks.push(callback))
    const [composer, input, button] = [box.querySelector('textarea')!, box.querySelector('input')!, box.querySelector('button')!]
    composer.focus()
    input.focus()
    expect(attributes(root)).toEqual({ typing: true, composing: true })
    button.focus()
    expect(attributes(root)).toEqual({ typing: true, composing: false })
    tasks.shift()!() // the first loss's task: the second's hold stays
    expect(attributes(root)).toEqual({ typing: true, composing: false })
    tasks.shift()!()
    expect(attributes(root)).toEqual({ typing: false, composing: false })
    stop()
  })

  it('lets go when stopped, and holds nothing after', () => {
    const box = add('<input><button>go</button>')
    const root = document.documentElement
    const stop = holdTyping(root, () => undefined)
    box.querySelector('input')!.focus()
    box.querySelector('button')!.focus()
    expect(attributes(root).typing).toBe(true)
    stop()
    expect(attributes(root).typing).toBe(false)
    box.querySelector('input')!.focus()
    box.querySelector('button')!.focus()
    expect(attributes(root).typing).toBe(false)
  })

  it('lets go after the task by default', async () => {
    const box = add('<input><button>go</button>')
    const root = document.documentElement
    const stop = holdTyping(root)
    box.querySelector('input')!.focus()
    box.querySelector('button')!.focus()
    expect(attributes(root).typing).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(attributes(root).typing).toBe(false)
    stop()
  })
})
