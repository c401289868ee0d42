/** Copy a text to the clipboard and say so for a moment (`copied`), as a copy button shows it. */
import { ref, type Ref } from 'vue'

const SHOWN_MS = 1500

export function useCopied(): { copied: Ref<boolean>; copy: (text: string) => Promise<void> } {
  const copied = ref(false)
  async function copy(text: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(text)
      copied.value = true
      setTimeout(() => (copied.value = false), SHOWN_MS)
    } catch {
      copied.value = false // clipboard refused (insecure context): the text stays selectable
    }
  }
  return { copied, copy }
}
