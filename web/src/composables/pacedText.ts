/**
 * The text to render of an answer that may still be streaming. Rendering an answer is not
 * incremental: each update parses the whole Markdown again (highlighting, formulas, sanitizing) and
 * replaces its DOM, so its cost grows with the answer while chunks keep coming (~20 a second). In
 * Chromium on a 2-core machine a 3,000-character answer took ~26 ms a render and a 12,000-character
 * one ~95 ms: rendered on every chunk, a long answer would take the whole main thread and the page
 * would stop answering the reader.
 *
 * So while `streaming`, `shown` follows `text` at most once every GAP_MS, and after a render that
 * took `ms` (reported with `took`) no sooner than RENDER_SHARE of the time goes to rendering: a
 * 60 ms render waits 240 ms, and no wait is longer than MAX_GAP_MS. The first text shows at once,
 * the latest text always shows within that gap (never skipped), and the final text shows as soon
 * as streaming ends.
 */
import { onScopeDispose, readonly, ref, watch, type Ref } from 'vue'

export const GAP_MS = 50
export const RENDER_SHARE = 0.25
// The longest wait, whatever a render seemed to take (a hidden tab runs no frames, so a render
// timed to its next frame can seem to take minutes).
export const MAX_GAP_MS = 1000

export interface PacedText {
  shown: Readonly<Ref<string>>
  /** How long the last render of `shown` took, in milliseconds. */
  took(ms: number): void
}

export function usePacedText(text: () => string, streaming: () => boolean): PacedText {
  const shown = ref(text())
  let cost = 0
  let shownAt = Number.NEGATIVE_INFINITY
  let timer: ReturnType<typeof setTimeout> | undefined

  function show(): void {
    timer = undefined
    shownAt = performance.now()
    shown.value = text()
  }

  watch([text, streaming], ([value, live]) => {
    if (!live) {
      clearTimeout(timer)
      timer = undefined
      if (value !== shown.value) show()
    } else if (timer === undefined && value !== shown.value) {
      const gap = Math.min(MAX_GAP_MS, Math.max(GAP_MS, cost / RENDER_SHARE))
      const wait = gap - (performance.now() - shownAt)
      if (wait <= 0) show()
      else timer = setTimeout(show, wait)
    }
  })
  onScopeDispose(() => clearTimeout(timer))

  return {
    shown: readonly(shown),
    took(ms: number): void {
      cost = ms
    },
  }
}
