/** A hand-made modal's keyboard behaviour, as Element Plus's own dialogs have it: the focus moves into
 *  the panel when it opens (so a screen reader reads its name), Tab and Shift+Tab go round inside it,
 *  Escape closes it, and the focus goes back to what had it (the button that opened it) when it goes. */
import { onBeforeUnmount, onMounted, type Ref } from 'vue'

const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])'

export function useDialogFocus(panel: Ref<HTMLElement | null>, close: () => void): void {
  let opener: HTMLElement | null = null

  function focusable(root: HTMLElement): HTMLElement[] {
    return [...root.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => !el.matches(':disabled') && el.tabIndex >= 0)
  }

  function onKeydown(event: KeyboardEvent): void {
    const root = panel.value
    if (!root) return
    if (event.key === 'Escape') {
      event.preventDefault()
      close()
      return
    }
    if (event.key !== 'Tab') return
    const items = focusable(root)
    const first = items[0]
    const last = items[items.length - 1]
    const active = document.activeElement
    if (!first || !last) {
      event.preventDefault()
      root.focus()
    } else if (event.shiftKey && (active === first || active === root || !root.contains(active))) {
      event.preventDefault()
      last.focus()
    } else if (!event.shiftKey && (active === last || !root.contains(active))) {
      event.preventDefault()
      first.focus()
    }
  }

  onMounted(() => {
    opener = document.activeElement instanceof HTMLElement ? document.activeElement : null
    document.addEventListener('keydown', onKeydown)
    panel.value?.focus()
  })
  onBeforeUnmount(() => {
    document.removeEventListener('keydown', onKeydown)
    if (opener?.isConnected) opener.focus()
  })
}
