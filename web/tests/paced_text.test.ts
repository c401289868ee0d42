import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { effectScope, nextTick, ref, watch } from 'vue'
import { mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import MarkdownView from '@/components/MarkdownView.vue'
import { GAP_MS, MAX_GAP_MS, RENDER_SHARE, usePacedText, type PacedText } from '@/composables/pacedText'

vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn() } }))

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] })
})
afterEach(() => {
  vi.useRealTimers()
})

/** A paced text over a streaming answer, with every value `shown` took, in order. */
function paced(initial = '') {
  const text = ref(initial)
  const streaming = ref(true)
  const scope = effectScope()
  const seen: string[] = []
  const result = scope.run(() => {
    const p = usePacedText(
      () => text.value,
      () => streaming.value,
    )
    watch(p.shown, (value) => seen.push(value), { flush: 'sync' })
    return p
  }) as PacedText
  return { text, streaming, scope, seen, result }
}

/** Set `text` and let Vue's watchers run (they are flushed before the next render, not at once). */
async function set(target: { value: string }, value: string): Promise<void> {
  target.value = value
  await nextTick()
}

describe('usePacedText', () => {
  it('shows the first chunk at once, then at most one text per gap, never dropping the latest', async () => {
    const { text, seen, result, scope } = paced()
    await set(text, 'a')
    expect(result.shown.value).toBe('a') // no wait for the first token
    let answer = 'a'
    for (let i = 0; i < 100; i++) {
      // 100 chunks over one second
      vi.advanceTimersByTime(10)
      answer += 'x'
      await set(text, answer)
    }
    vi.advanceTimersByTime(GAP_MS)
    expect(result.shown.value).toBe(answer)
    // 1 + one per gap over the second: 21 renders rather than 101.
    expect(seen.length).toBeLessThanOrEqual(1 + Math.ceil(1000 / GAP_MS) + 1)
    expect(seen.length).toBeGreaterThanOrEqual(Math.floor(1000 / GAP_MS))
    scope.stop()
  })

  it('shows the final text as soon as streaming ends, without waiting for the gap', async () => {
    const { text, streaming, result, scope } = paced()
    await set(text, 'first')
    await set(text, 'first second') // inside the gap: waits
    expect(result.shown.value).toBe('first')
    text.value = 'first second third'
    streaming.value = false
    await nextTick()
    expect(result.shown.value).toBe('first second third')
    vi.advanceTimersByTime(GAP_MS * 10) // the pending timer was cleared: nothing changes it back
    expect(result.shown.value).toBe('first second third')
    scope.stop()
  })

  it('waits longer after a costly render, so rendering takes at most its share of the time', async () => {
    const { text, result, scope } = paced()
    await set(text, 'long answer')
    result.took(60) // a 60 ms render: the next waits 60 / RENDER_SHARE ms after it
    await set(text, 'long answer grows')
    vi.advanceTimersByTime(60 / RENDER_SHARE - 1)
    expect(result.shown.value).toBe('long answer')
    vi.advanceTimersByTime(1)
    expect(result.shown.value).toBe('long answer grows')
    scope.stop()
  })

  it('never waits longer than MAX_GAP_MS, however long a render seemed to take (a tab in the background)', async () => {
    const { text, result, scope } = paced()
    await set(text, 'a')
    result.took(5 * 60_000) // timed to a frame that came when the tab was shown again
    await set(text, 'ab')
    vi.advanceTimersByTime(MAX_GAP_MS)
    expect(result.shown.value).toBe('ab')
    scope.stop()
  })

  it('follows a text that is not streaming at once (another answer, an edit)', async () => {
    const { text, streaming, result, scope } = paced('done')
    streaming.value = false
    await nextTick()
    await set(text, 'another')
    expect(result.shown.value).toBe('another')
    await set(text, 'and another')
    expect(result.shown.value).toBe('and another')
    scope.stop()
  })

  it('leaves no timer behind once its component is gone', async () => {
    const { text, result, scope } = paced()
    await set(text, 'a')
    await set(text, 'ab') // waits for the gap
    scope.stop()
    expect(vi.getTimerCount()).toBe(0)
    expect(result.shown.value).toBe('a')
  })
})

describe('MarkdownView while streaming', () => {
  it('renders the growing answer at its pace and the final one at once', async () => {
    const wrapper = mount(MarkdownView, {
      props: { text: '', streaming: true },
      global: { plugins: [makeI18n('en')] },
    })
    await wrapper.setProps({ text: '**one**' })
    expect(wrapper.find('strong').text()).toBe('one')
    await wrapper.setProps({ text: '**one** two' })
    expect(wrapper.text()).toBe('one') // inside the gap
    vi.advanceTimersByTime(GAP_MS)
    await nextTick()
    expect(wrapper.text()).toBe('one two')
    await wrapper.setProps({ text: '**one** two *three*' })
    await wrapper.setProps({ streaming: false })
    expect(wrapper.find('em').text()).toBe('three')
    expect(wrapper.classes()).not.toContain('cursor-blink')
  })
})
