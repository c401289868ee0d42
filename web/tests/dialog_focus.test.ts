import { afterEach, describe, expect, it, vi } from 'vitest'
import { mount } from '@vue/test-utils'
import { makeI18n } from '@/i18n'
import ShareDialog from '@/components/ShareDialog.vue'

// The dialog lists the chat's links on opening: an empty list here.
vi.mock('@/lib/supabase', () => {
  const rows = { select: () => rows, eq: () => rows, order: () => Promise.resolve({ data: [], error: null }) }
  return { supabase: () => ({ from: () => rows }) }
})
vi.mock('@/lib/ui', () => ({ ElMessage: { error: vi.fn(), success: vi.fn() } }))

function press(key: string, shiftKey = false): void {
  document.activeElement!.dispatchEvent(new KeyboardEvent('keydown', { key, shiftKey, bubbles: true, cancelable: true }))
}

describe('the share dialog (a modal, by keyboard)', () => {
  afterEach(() => {
    document.body.innerHTML = ''
  })

  function open() {
    const opener = document.createElement('button')
    opener.textContent = 'Share'
    document.body.appendChild(opener)
    opener.focus()
    const host = document.createElement('div')
    document.body.appendChild(host)
    const wrapper = mount(ShareDialog, { props: { sessionId: 's' }, attachTo: host, global: { plugins: [makeI18n('en')] } })
    const dialog = document.querySelector<HTMLElement>('[role="dialog"]')!
    return { opener, wrapper, dialog }
  }

  it('is modal and takes the focus when it opens', () => {
    const { dialog } = open()
    expect(dialog.getAttribute('aria-modal')).toBe('true')
    expect(dialog.contains(document.activeElement)).toBe(true)
  })

  it('keeps Tab and Shift+Tab inside it', () => {
    const { dialog } = open()
    const buttons = [...dialog.querySelectorAll<HTMLElement>('button, input')]
    const first = buttons[0]!
    const last = buttons[buttons.length - 1]!
    last.focus()
    press('Tab')
    expect(document.activeElement).toBe(first)
    press('Tab', true)
    expect(document.activeElement).toBe(last)
  })

  it('closes on Escape and gives the focus back to what opened it', () => {
    const { opener, wrapper } = open()
    press('Escape')
    expect(wrapper.emitted('close')).toHaveLength(1)
    wrapper.unmount()
    expect(document.activeElement).toBe(opener)
  })
})
