/**
 * The files for the next question. Each uploads as soon as it is added (so sending only waits for
 * the ones still on their way), after the limits the database checks (count, images per message,
 * type and size, and an image's pixels once it is measured) refused it early with a toast. Removing a file discards its upload, also when the
 * upload finishes after the removal; a failed upload is reported and removed.
 */
import { computed, ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { ElMessage } from '@/lib/ui'
import { FileRefused, MAX_ATTACHMENTS, MAX_IMAGES, attachmentProblem, discardAttachments, fileType, uploadAttachment } from '@/lib/files'
import type { ShownFile } from '@/components/AttachmentList.vue'
import type { Attachment } from '@/lib/types'

export interface PendingFile {
  key: string
  file: File
  localUrl?: string
  upload: Promise<Attachment | null>
  done: Attachment | null
  uploading: boolean
}

const PROBLEM_KEYS = {
  type: 'files.badType',
  oldOffice: 'files.oldOffice',
  size: 'files.tooLarge',
  imageSize: 'files.imageTooLarge',
  imagePixels: 'files.imageTooManyPixels',
  imageUnreadable: 'files.imageUnreadable',
} as const

export function usePendingFiles(errorText: (e: unknown) => string) {
  const { t } = useI18n()
  const pending = ref<PendingFile[]>([])
  const uploadsRunning = computed(() => pending.value.some((p) => p.uploading))
  const shown = computed<ShownFile[]>(() =>
    pending.value.map((p) => ({ key: p.key, name: p.file.name, mime_type: fileType(p.file), size: p.file.size, localUrl: p.localUrl, uploading: p.uploading })),
  )

  function add(list: FileList | File[] | null | undefined): void {
    for (const file of Array.from(list ?? [])) {
      if (pending.value.length >= MAX_ATTACHMENTS) {
        ElMessage.error(t('files.tooMany', { n: MAX_ATTACHMENTS }))
        return
      }
      const images = pending.value.filter((p) => fileType(p.file).startsWith('image/')).length
      if (fileType(file).startsWith('image/') && images >= MAX_IMAGES) {
        ElMessage.error(t('files.tooManyImages', { n: MAX_IMAGES }))
        continue
      }
      const problem = attachmentProblem(file)
      if (problem) {
        ElMessage.error(t(PROBLEM_KEYS[problem], { name: file.name }))
        continue
      }
      const item: PendingFile = {
        key: crypto.randomUUID(),
        file,
        localUrl: fileType(file).startsWith('image/') ? URL.createObjectURL(file) : undefined,
        done: null,
        uploading: true,
        upload: Promise.resolve(null),
      }
      item.upload = uploadAttachment(file)
        .then((attachment) => {
          const current = pending.value.find((p) => p.key === item.key)
          if (current) {
            current.done = attachment
            current.uploading = false
          } else {
            void discardAttachments([attachment.path]) // removed while uploading
          }
          return attachment
        })
        .catch((e: unknown) => {
          remove(item.key)
          if (e instanceof FileRefused) ElMessage.error(t(PROBLEM_KEYS[e.problem], { name: file.name }))
          else ElMessage.error(t('common.joined', { head: t('files.uploadFailed', { name: file.name }), tail: errorText(e) }))
          return null
        })
      pending.value = [...pending.value, item]
    }
  }

  function remove(key: string): void {
    const item = pending.value.find((p) => p.key === key)
    if (!item) return
    pending.value = pending.value.filter((p) => p.key !== key)
    if (item.localUrl) URL.revokeObjectURL(item.localUrl)
    if (item.done) void discardAttachments([item.done.path])
  }

  /** Free the previews of files that were sent (their uploads now belong to the message). */
  function release(files: PendingFile[]): void {
    for (const p of files) if (p.localUrl) URL.revokeObjectURL(p.localUrl)
  }

  return { pending, shown, uploadsRunning, add, remove, release }
}
