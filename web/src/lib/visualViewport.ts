/**
 * iOS Safari ignores index.html's `interactive-widget=resizes-content`: its on-screen keyboard
 * shrinks only the visual viewport (what shows), the page keeps its full height, and Safari may pan
 * what shows down the page. The app, sized to the page, had its composer under the keyboard. So
 * while the visual viewport is shorter than the page (and not because of a pinch zoom), the app
 * takes its height and its place: `--app-height` and `--app-top` on the root (styles.css), and
 * `data-short` when it is as short as the `keyboard:` variant's page (tailwind.config.js), so the
 * header and the tab bar step aside as they do where the page itself shrinks (Android). Where the
 * page shrinks with the keyboard, or the visual viewport is the page, nothing is set.
 * As the app's height changes the focused text field is scrolled into what its view shows: Safari
 * pans to the field on the page, but the app, shrunk to what shows, left its view scrolled where it
 * was, a field low on the page under the keyboard (Chrome on Android does this itself as the page
 * shrinks).
 */
import { TEXT_FIELD } from './typingHold'

/** What the keyboard: variant counts as a short screen (its max-height), in CSS pixels. */
export const SHORT = 480

type Viewport = Pick<VisualViewport, 'height' | 'offsetTop' | 'scale' | 'addEventListener' | 'removeEventListener'>

/** The root's state for a visual viewport `viewport` over a page `pageHeight` tall. */
export function fit(viewport: Pick<Viewport, 'height' | 'offsetTop' | 'scale'>, pageHeight: number): { height: number; top: number; short: boolean } | null {
  // Zoomed in, the visual viewport is a magnifier over the page, not what a keyboard leaves.
  if (Math.abs(viewport.scale - 1) > 0.01) return null
  if (pageHeight - viewport.height <= 1) return null
  return { height: viewport.height, top: Math.max(viewport.offsetTop, 0), short: viewport.height <= SHORT }
}

/** Keep `root` fitted to `viewport` from now on; returns the function that stops it (and clears it). */
export function followVisualViewport(
  viewport: Viewport | null | undefined = typeof window === 'undefined' ? null : window.visualViewport,
  root: HTMLElement = document.documentElement,
): () => void {
  if (!viewport) return () => undefined
  const clear = (): void => {
    root.style.removeProperty('--app-height')
    root.style.removeProperty('--app-top')
    root.removeAttribute('data-short')
  }
  const sync = (): void => {
    // The page's height: the layout viewport, which the keyboard leaves alone on iOS.
    const state = fit(viewport, root.clientHeight)
    if (state === null) return clear()
    const resized = root.style.getPropertyValue('--app-height') !== `${state.height}px`
    root.style.setProperty('--app-height', `${state.height}px`)
    root.style.setProperty('--app-top', `${state.top}px`)
    root.toggleAttribute('data-short', state.short)
    // Only as the height changes: a pan moves the app with what shows, the field with it.
    const field = root.ownerDocument.activeElement
    if (resized && field instanceof HTMLElement && field.matches(TEXT_FIELD) && root.contains(field)) {
      field.scrollIntoView({ block: 'nearest' })
    }
  }
  viewport.addEventListener('resize', sync)
  viewport.addEventListener('scroll', sync)
  sync()
  return () => {
    viewport.removeEventListener('resize', sync)
    viewport.removeEventListener('scroll', sync)
    clear()
  }
}
