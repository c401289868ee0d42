/**
 * On a short touch screen the keyboard: and composing: variants (tailwind.config.js) put the app's
 * header, the tab bar and the persona chips aside while a text field has the focus. Going by the
 * focus alone, they came back on the very touch that took the focus from the field: a tap on a
 * form's button (log in, create a key, the composer's send) moves the focus to that button on the
 * finger's touch, the layout moved (the button 57px down under the header, send 51px up over the
 * tab bar), and the release, hit-tested again, landed beside the button: the tap reached nothing.
 * So when a field loses the focus the root keeps `data-typing` (and `data-composing` for the chat's
 * composer) until the task that took it is over: the tap ends on the layout it began on, and what
 * stepped aside comes back after it. Taking the focus needs no hold (the variants say it at once).
 */

/** A text field (a phone's on-screen keyboard comes up for it). */
export const TEXT_FIELD = 'textarea, input:not([type=checkbox], [type=radio], [type=file])'
/** The chat's composer (ChatComposer.vue). */
export const COMPOSER = 'textarea[data-composer]'

/** The attributes the root holds for one task after `field` lost the focus, if any. */
export function held(field: EventTarget | null): string[] {
  if (!(field instanceof Element) || !field.matches(TEXT_FIELD)) return []
  return field.matches(COMPOSER) ? ['data-typing', 'data-composing'] : ['data-typing']
}

/** Hold the root's attributes across each loss of a text field's focus from now on; returns the
 *  function that stops it (and lets go). `later` runs its callback after the current task. */
export function holdTyping(
  root: HTMLElement = document.documentElement,
  later: (callback: () => void) => unknown = (callback) => setTimeout(callback, 0),
): () => void {
  let holding: string[] = []
  let release = 0
  const letGo = (): void => {
    for (const name of holding) root.removeAttribute(name)
    holding = []
  }
  const onFocusOut = (event: FocusEvent): void => {
    const names = held(event.target)
    if (names.length === 0) return
    letGo()
    holding = names
    for (const name of names) root.setAttribute(name, '')
    const mine = ++release
    later(() => {
      if (mine === release) letGo()
    })
  }
  root.ownerDocument.addEventListener('focusout', onFocusOut, true)
  return () => {
    root.ownerDocument.removeEventListener('focusout', onFocusOut, true)
    release += 1
    letGo()
  }
}
