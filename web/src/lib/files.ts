/**
 * Files in Supabase Storage: the avatar (public bucket `avatars`, under `<user id>/`) and chat
 * attachments (private bucket `attachments`, under `<user id>/`, read through signed URLs).
 * The buckets' own limits are enforced by Storage; the checks here only give a clear message
 * before a doomed upload starts.
 */
import { storeOnce, type Outcome } from './storeOnce'
import { supabase } from './supabase'
import type { Attachment } from './types'

export const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp']
export const AVATAR_MAX_BYTES = 2 * 1024 * 1024
export const ATTACHMENT_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp']
export const ATTACHMENT_TYPES = [
  ...ATTACHMENT_IMAGE_TYPES,
  'application/pdf',
  'text/plain',
  'text/markdown',
  'text/csv',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
]
export const ATTACHMENT_MAX_BYTES = 20 * 1024 * 1024
export const MAX_ATTACHMENTS = 10
const AVATAR_SIDE = 256

/** Signed links last this long; the browser journey shortens it through `?signedSeconds=`. */
export function signedSeconds(): number {
  const fromQuery = Number(new URLSearchParams(window.location.search).get('signedSeconds'))
  return Number.isFinite(fromQuery) && fromQuery > 0 ? fromQuery : 3600
}

export type FileProblem = 'type' | 'oldOffice' | 'size' | 'imageSize' | 'imagePixels' | 'imageUnreadable'
/** Per image, as the database checks on the question (migrations/..._attachments_in_answers.sql). */
export const IMAGE_MAX_BYTES = 10 * 1024 * 1024
export const MAX_IMAGES = 8
/** An image's width times height at most (the database's check, as the model takes them). */
export const IMAGE_MAX_PIXELS = 36_000_000

/** The types of the files we take, by extension. */
const BY_EXTENSION: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  pdf: 'application/pdf',
  txt: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  csv: 'text/csv',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
}

/** What the file picker offers: our types, and our extensions for a system that knows no type for them. */
export const ATTACHMENT_ACCEPT = [...ATTACHMENT_TYPES, ...Object.keys(BY_EXTENSION).map((extension) => `.${extension}`)].join(',')

/** The browser's names for a type that mean one of ours. */
const ALIASES: Record<string, string> = { 'text/x-markdown': 'text/markdown' }

/** The MIME type Storage will be told. Browsers take a file's type from the system: Markdown often
 * has none (or `text/x-markdown`, Linux's older name), nor has a Word document on Windows without
 * Office, and such a file was refused as a type we do not take. Without a type (or with
 * `application/octet-stream`, "some bytes") the extension names it, as it does a .csv that Windows
 * names after Excel (`application/vnd.ms-excel`, which is also an .xls's); a type the browser does
 * name is kept, so a file named .png that the system knows for a BMP is still refused. */
export function fileType(file: File): string {
  const extension = /\.([a-z]+)$/i.exec(file.name)?.[1]?.toLowerCase() ?? ''
  const named = ALIASES[file.type] ?? file.type
  const vague = !named || named === 'application/octet-stream' || (extension === 'csv' && named === 'application/vnd.ms-excel')
  if (!vague) return named
  return BY_EXTENSION[extension] ?? 'application/octet-stream'
}

/** Office 97-2003's Excel, Word and PowerPoint files, by type or extension: no reader of theirs is installed, and
 * Office saves them as .xlsx, .docx or .pptx in a step, which the user is told (the worker's DocumentUnsupported). */
const OLD_OFFICE = ['application/vnd.ms-excel', 'application/msword', 'application/vnd.ms-powerpoint']

export function attachmentProblem(file: File): FileProblem | null {
  const extension = /\.([a-z]+)$/i.exec(file.name)?.[1]?.toLowerCase() ?? ''
  if (OLD_OFFICE.includes(fileType(file)) || ['xls', 'doc', 'ppt'].includes(extension)) return 'oldOffice'
  if (!ATTACHMENT_TYPES.includes(fileType(file))) return 'type'
  if (file.size > ATTACHMENT_MAX_BYTES) return 'size'
  if (ATTACHMENT_IMAGE_TYPES.includes(fileType(file)) && file.size > IMAGE_MAX_BYTES) return 'imageSize'
  return null
}

/** A key Storage accepts (its S3-safe characters), keeping the extension; the real name stays in metadata. */
export function safeName(name: string): string {
  const cleaned = name.normalize('NFKD').replace(/[^A-Za-z0-9_.() -]/g, '_').replace(/^[.\s]+/, '')
  return (cleaned || 'file').slice(-100)
}

/** The name a message records: at most 255 characters as the database counts them (code points), so
 * an emoji or a rare Han character (a surrogate pair) is kept whole or left out, never cut in half:
 * half of one is not text, and the database refuses the message that carries it. */
export function attachmentName(name: string): string {
  return Array.from(name).slice(0, 255).join('') || 'file'
}

async function userId(): Promise<string> {
  const { data } = await supabase().auth.getSession()
  const id = data.session?.user.id
  // Signed out meanwhile (another tab, an expired refresh token): worded as lib/errors.ts's NotAuthenticated.
  if (!id) throw Object.assign(new Error('not signed in'), { code: 'NotAuthenticated' })
  return id
}

function imageSize(file: File): Promise<{ width: number; height: number } | null> {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file)
    const img = new Image()
    img.onload = () => {
      resolve({ width: img.naturalWidth, height: img.naturalHeight })
      URL.revokeObjectURL(url)
    }
    img.onerror = () => {
      resolve(null)
      URL.revokeObjectURL(url)
    }
    img.src = url
  })
}

/** What storage-js's errors carry: an HTTP status (none when no response came) and Storage's code. */
interface StorageError {
  message: string
  status?: number
  statusCode?: string
}

/** storage-js's answer as an Outcome (lib/storeOnce.ts): no response is status 0. */
function storageOutcome(path: string, error: StorageError | null): Outcome<string> {
  return error === null ? { data: path, error: null, status: 200 } : { data: null, error, status: error.status ?? 0 }
}

/** Storage's refusal of a path that is already stored (HTTP 400, `statusCode` 409 "Duplicate"). */
const pathTaken = (outcome: Outcome<string>) => (outcome.error as StorageError | null)?.statusCode === '409'

/** Upload `body` to a new `path` of a bucket, once: an upload whose response was lost is looked for
 * and sent again under the same path only if it is not there, so a dropped connection neither
 * fails a stored file nor stores it twice (nor leaves it stored and unused). */
async function uploadOnce(bucketName: string, path: string, body: Blob, options: { contentType: string; cacheControl?: string }): Promise<void> {
  const bucket = () => supabase().storage.from(bucketName)
  const { error } = await storeOnce(
    async () => storageOutcome(path, (await bucket().upload(path, body, { ...options, upsert: false })).error),
    async () => {
      const { data, error: failed } = await bucket().exists(path)
      if (data) return storageOutcome(path, null)
      const absent = failed === null || [400, 404].includes(failed.status ?? 0) // how exists() answers "no such object"
      return absent ? { data: null, error: null, status: 404 } : storageOutcome(path, failed)
    },
    { taken: pathTaken },
  )
  if (error) throw error
}

/** What the database would refuse in an image of this size (null: the browser could not read it). */
export function imageProblem(size: { width: number; height: number } | null): FileProblem | null {
  if (size === null || size.width < 1 || size.height < 1) return 'imageUnreadable'
  return size.width * size.height > IMAGE_MAX_PIXELS ? 'imagePixels' : null
}

/** A file refused before its upload, for `problem` (an image the database would refuse). */
export class FileRefused extends Error {
  constructor(public problem: FileProblem, name: string) {
    super(`${name}: ${problem}`)
    this.name = 'FileRefused'
  }
}

/** Upload one attachment under the caller's folder; the metadata a message records. An image is
 * measured first: one the database would refuse with its message (over 36 megapixels, or no size
 * the browser can read) is refused here, FileRefused, and not uploaded. */
export async function uploadAttachment(file: File): Promise<Attachment> {
  const type = fileType(file)
  const size = ATTACHMENT_IMAGE_TYPES.includes(type) ? await imageSize(file) : null
  if (ATTACHMENT_IMAGE_TYPES.includes(type)) {
    const problem = imageProblem(size)
    if (problem) throw new FileRefused(problem, file.name)
  }
  const uid = await userId()
  const path = `${uid}/${crypto.randomUUID()}/${safeName(file.name)}`
  await uploadOnce('attachments', path, file, { contentType: type })
  return { bucket: 'attachments', path, name: attachmentName(file.name), mime_type: type, size: file.size, ...(size ?? {}) }
}

/** Remove uploads that never made it into a message (the composer was cleared or sending failed). */
export async function discardAttachments(paths: string[]): Promise<void> {
  if (paths.length) await supabase().storage.from('attachments').remove(paths)
}

const signed = new Map<string, { url: string; until: number }>()

/** A signed download link for one of the caller's attachments, reused while it is fresh. */
export async function attachmentUrl(path: string, download?: string): Promise<string> {
  const key = `${path}|${download ?? ''}`
  const hit = signed.get(key)
  if (hit && hit.until > Date.now()) return hit.url
  const seconds = signedSeconds()
  const { data, error } = await supabase()
    .storage.from('attachments')
    .createSignedUrl(path, seconds, download ? { download } : undefined)
  if (error) throw error
  signed.set(key, { url: data.signedUrl, until: Date.now() + (seconds * 1000) / 2 })
  return data.signedUrl
}

export function forgetSignedUrls(): void {
  signed.clear()
}

/** The centre square of an image, scaled to 256×256 PNG: avatars are shown round and small. A
 * file the browser cannot read as a picture is FileRefused 'imageUnreadable'. */
export async function squareAvatar(file: File): Promise<Blob> {
  const bitmap = await createImageBitmap(file).catch(() => {
    throw new FileRefused('imageUnreadable', file.name)
  })
  const side = Math.min(bitmap.width, bitmap.height)
  const canvas = document.createElement('canvas')
  canvas.width = AVATAR_SIDE
  canvas.height = AVATAR_SIDE
  const context = canvas.getContext('2d')
  if (!context) throw new Error('no canvas')
  context.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, AVATAR_SIDE, AVATAR_SIDE)
  return await new Promise<Blob>((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('no image'))), 'image/png'),
  )
}

function avatarPrefix(): string {
  return supabase().storage.from('avatars').getPublicUrl('').data.publicUrl
}

/** Whether a profile's avatar_url is one of ours (in the avatars bucket) rather than an external link.
 * A URL under our prefix whose path is not valid percent-encoding (the profile's URL is the user's
 * to write) names no file of ours: null, not a URIError. */
export function storedAvatarPath(url: string | null | undefined): string | null {
  if (!url) return null
  const prefix = avatarPrefix()
  if (!url.startsWith(prefix)) return null
  try {
    return decodeURIComponent(url.slice(prefix.length).split(/[?#]/)[0] ?? '') || null
  } catch {
    return null
  }
}

/**
 * Upload a new avatar (square PNG) and return its public URL. The caller saves it on the profile and
 * only then removes the previous one: a failed save leaves the profile's avatar where it was.
 */
export async function uploadAvatar(file: File): Promise<string> {
  const uid = await userId()
  const path = `${uid}/avatar-${Date.now()}.png`
  await uploadOnce('avatars', path, await squareAvatar(file), { contentType: 'image/png', cacheControl: '31536000' })
  return supabase().storage.from('avatars').getPublicUrl(path).data.publicUrl
}

export async function removeAvatar(url: string | null): Promise<void> {
  const path = storedAvatarPath(url)
  if (path) await supabase().storage.from('avatars').remove([path])
}

/** A file's size for people: 900 B, 12 KB, 3.4 MB. */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}
