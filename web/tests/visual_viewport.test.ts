/**
 * iOS Safari's keyboard shrinks only the visual viewport: the app follows it (its height and its
 * place down the page, and data-short for the keyboard: variant), and lets go when the keyboard
 * goes, when the page itself shrinks (Android) or when the visual viewport is a pinch zoom.
 */
import { describe, expect, it } from 'vitest'
import { fit, followVisualViewport } from '@/lib/visualViewport'

class FakeViewport extends EventTarget {
  height = 844
  offsetTop = 0
  scale = 1
  move(change: Partial<Pick<FakeViewport, 'height' | 'offsetTop' | 'scale'>>, event = 'resize'): void {
    Object.assign(this, change)
    this.dispatchEvent(new Event(event))
  }
}

function page(height: number): HTMLElement {
  const root = document.createElement('div')
  Object.defineProperty(root, 'clientHeight', { get: () => height })
  return root
}

const state = (root: HTMLElement) => ({
  height: root.style.getPropertyValue('--app-height'),
  top: root.style.getPropertyValue('--app-top'),
  short: root.hasAttribute('data-short'),
})

describe('fit', () => {
  it('takes the visual viewport shorter than the page', () => {
    expect(fit({ height: 400, offsetTop: 120, scale: 1 }, 844)).toEqual({ height: 400, top: 120, short: true })
    expect(fit({ height: 700, offsetTop: 0, scale: 1 }, 1180)).toEqual({ height: 700, top: 0, short: false })
  })
  it('lets the page be when the visual viewport is the page or a zoom over it', () => {
    expect(fit({ height: 844, offsetTop: 0, scale: 1 }, 844)).toBeNull()
    expect(fit({ height: 400, offsetTop: 0, scale: 1 }, 400)).toBeNull() // Android: the page shrank with it
    expect(fit({ height: 422, offsetTop: 200, scale: 2 }, 844)).toBeNull()
  })
})

describe('followVisualViewport', () => {
  it("follows iOS's keyboard up, panned, and down again", () => {
    const viewport = new FakeViewport()
    const root = page(844)
    const stop = followVisualViewport(viewport, root)
    expect(state(root)).toEqual({ height: '', top: '', short: false })
    viewport.move({ height: 400 })
    expect(state(root)).toEqual({ height: '400px', top: '0px', short: true })
    viewport.move({ offsetTop: 300 }, 'scroll')
    expect(state(root)).toEqual({ height: '400px', top: '300px', short: true })
    viewport.move({ height: 844, offsetTop: 0 })
    expect(state(root)).toEqual({ height: '', top: '', short: false })
    viewport.move({ height: 400 })
    stop()
    expect(state(root)).toEqual({ height: '', top: '', short: false })
    viewport.move({ height: 380 })
    expect(state(root)).toEqual({ height: '', top: '', short: false })
  })
  it('scrolls the focused text field into what the app shows as its height changes, not as it pans', () => {
    const viewport = new FakeViewport()
    const root = page(844)
    root.innerHTML = '<input data-testid="field"><button>save</button>'
    document.body.append(root)
    const field = root.querySelector('input')!
    const revealed: ScrollIntoViewOptions[] = []
    field.scrollIntoView = (options?: boolean | ScrollIntoViewOptions) => void revealed.push(options as ScrollIntoViewOptions)
    const stop = followVisualViewport(viewport, root)
    viewport.move({ height: 400 }) // nothing focused
    expect(revealed).toEqual([])
    viewport.move({ height: 844 })
    field.focus()
    viewport.move({ height: 400, offsetTop: 300 }) // the keyboard up, Safari panned to the field
    expect(revealed).toEqual([{ block: 'nearest' }])
    viewport.move({ offsetTop: 200 }, 'scroll') // a pan moves the app, the field with it
    viewport.move({ offsetTop: 250 })
    expect(revealed).toHaveLength(1)
    viewport.move({ height: 380 }) // the keyboard's suggestions row
    expect(revealed).toHaveLength(2)
    root.querySelector('button')!.focus()
    viewport.move({ height: 400 })
    expect(revealed).toHaveLength(2)
    stop()
    root.remove()
  })
  it('does nothing without a visual viewport', () => {
    const root = page(844)
    followVisualViewport(null, root)()
    expect(state(root).short).toBe(false)
  })
})
