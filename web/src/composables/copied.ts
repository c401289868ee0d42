/** Copy a text to the clipboard and say so for a moment (`copied`), as a copy button shows it; a
 *  refused copy (an insecure context, a denied permission) says so too, and the text stays selectable. */
import { ref, type Ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from '@/lib/ui'

const SHOWN_MS = 1500

export function useCopied(): { copied: Ref<boolean>; copy: (text: string) => Promise<void>; write: (text: string) => Promise<boolean> } {
  const { t } = useI18n()
  const copied = ref(false)

  /** Whether the text reached the clipboard (a refusal is shown as a toast). */
  async function write(text: string): Promise<boolean> {
    try {
      await navigator.clipboard.writeText(text)
      return true
    } catch {
      ElMessage.error(t('qwen.copyFailed'))
      return false
    }
  }

  async function copy(text: string): Promise<void> {
    copied.value = await write(text)
    if (copied.value) setTimeout(() => (copied.value = false), SHOWN_MS)
  }
  return { copied, copy, write }
}
