/** Attachment names, the images the database would refuse, and stored avatar paths (lib/files.ts). */
import { describe, expect, it, vi } from 'vitest'

const PREFIX = 'http://sb.test/storage/v1/object/public/avatars/'

vi.mock('@/lib/supabase', () => ({
  supabase: () => ({
    storage: { from: () => ({ getPublicUrl: (path: string) => ({ data: { publicUrl: PREFIX + path } }) }) },
    auth: { getSession: async () => ({ data: { session: null }, error: null }) }, // signed out meanwhile
  }),
}))

const { ATTACHMENT_ACCEPT, attachmentName, attachmentProblem, fileType, imageProblem, storedAvatarPath, uploadAttachment } = await import('@/lib/files')
const { errorText } = await import('@/lib/errors')
const { makeI18n } = await import('@/i18n')

describe('attachmentName', () => {
  it('keeps at most 255 characters as the database counts them, never half of a surrogate pair', () => {
    const name = `${'a'.repeat(254)}😀😀.png`
    const kept = attachmentName(name)
    expect(kept).toBe(`${'a'.repeat(254)}😀`)
    expect(() => encodeURIComponent(kept)).not.toThrow() // no lone surrogate
    expect(Array.from(kept)).toHaveLength(255)
    // 300 emoji: 255 of them (510 UTF-16 units), all whole.
    expect(attachmentName('😀'.repeat(300))).toBe('😀'.repeat(255))
    expect(attachmentName('𠮷野家.txt')).toBe('𠮷野家.txt')
    expect(attachmentName('')).toBe('file')
  })
})

describe('storedAvatarPath', () => {
  it('names the file of a URL in our avatars bucket, and nothing else', () => {
    expect(storedAvatarPath(`${PREFIX}u1/avatar-1.png?t=2`)).toBe('u1/avatar-1.png')
    expect(storedAvatarPath(`${PREFIX}u1/%E5%A4%B4%E5%83%8F.png`)).toBe('u1/头像.png')
    expect(storedAvatarPath('https://example.com/me.png')).toBeNull()
    expect(storedAvatarPath(null)).toBeNull()
  })

  it('answers null for a URL under our prefix that is not valid percent-encoding, instead of throwing', () => {
    expect(storedAvatarPath(`${PREFIX}u1/100%.png`)).toBeNull()
    expect(storedAvatarPath(`${PREFIX}u1/%E5%A4.png`)).toBeNull()
  })
})

describe('imageProblem', () => {
  it('refuses what the database would: over 36 megapixels, or no size the browser could read', () => {
    expect(imageProblem({ width: 6000, height: 6000 })).toBeNull()
    expect(imageProblem({ width: 9000, height: 4001 })).toBe('imagePixels')
    expect(imageProblem(null)).toBe('imageUnreadable')
    expect(imageProblem({ width: 0, height: 0 })).toBe('imageUnreadable')
  })
})

describe('fileType', () => {
  const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'
  const file = (name: string, type: string) => new File(['x'], name, { type })

  it('names a file we take by its extension when the browser gives no type or another name for it', () => {
    // Windows without Word gives a .docx no type; Linux's older MIME database calls Markdown text/x-markdown
    expect(fileType(file('report.docx', ''))).toBe(DOCX)
    expect(attachmentProblem(file('report.docx', ''))).toBeNull()
    expect(fileType(file('notes.md', 'text/x-markdown'))).toBe('text/markdown')
    expect(attachmentProblem(file('notes.markdown', 'text/x-markdown'))).toBeNull()
    expect(fileType(file('README', ''))).toBe('application/octet-stream')
    expect(fileType(file('PHOTO.JPG', ''))).toBe('image/jpeg')
    expect(fileType(file('scan.pdf', 'application/octet-stream'))).toBe('application/pdf')
    expect(fileType(file('log.txt', ''))).toBe('text/plain')
    expect(fileType(file('sales.csv', 'text/csv'))).toBe('text/csv')
    expect(fileType(file('sales.csv', 'application/vnd.ms-excel'))).toBe('text/csv') // Windows with Excel
    expect(attachmentProblem(file('sales.csv', ''))).toBeNull()
  })

  it('takes an Excel workbook (.xlsx), by its type or by its extension, and offers it in the picker', () => {
    const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
    expect(fileType(file('sales.xlsx', XLSX))).toBe(XLSX)
    expect(attachmentProblem(file('sales.xlsx', XLSX))).toBeNull()
    expect(fileType(file('Sales.XLSX', ''))).toBe(XLSX) // Windows without Excel gives it no type
    expect(attachmentProblem(file('sales.xlsx', 'application/octet-stream'))).toBeNull()
    expect(ATTACHMENT_ACCEPT.split(',')).toEqual(expect.arrayContaining([XLSX, '.xlsx']))
  })

  it('takes a PowerPoint presentation (.pptx), by its type or by its extension, and offers it in the picker', () => {
    const PPTX = 'application/vnd.openxmlformats-officedocument.presentationml.presentation'
    expect(fileType(file('deck.pptx', PPTX))).toBe(PPTX)
    expect(attachmentProblem(file('deck.pptx', PPTX))).toBeNull()
    expect(fileType(file('Deck.PPTX', ''))).toBe(PPTX) // Windows without Office gives it no type
    expect(attachmentProblem(file('deck.pptx', 'application/octet-stream'))).toBeNull()
    expect(ATTACHMENT_ACCEPT.split(',')).toEqual(expect.arrayContaining([PPTX, '.pptx']))
  })

  it('refuses an Office 97-2003 file (.xls, .doc, .ppt) as one to save as .xlsx, .docx or .pptx, not as a type it cannot name', () => {
    expect(attachmentProblem(file('budget.xls', 'application/vnd.ms-excel'))).toBe('oldOffice')
    expect(attachmentProblem(file('Budget.XLS', ''))).toBe('oldOffice') // no type: by its extension
    expect(attachmentProblem(file('letter.doc', 'application/msword'))).toBe('oldOffice')
    expect(attachmentProblem(file('letter.doc', 'application/octet-stream'))).toBe('oldOffice')
    expect(attachmentProblem(file('sales.csv', 'application/vnd.ms-excel'))).toBeNull() // Windows names a CSV so
    expect(attachmentProblem(file('slides.ppt', 'application/vnd.ms-powerpoint'))).toBe('oldOffice')
    expect(attachmentProblem(file('Slides.PPT', ''))).toBe('oldOffice')
  })

  it("keeps the browser's type when it is one we take, and a type we do not take is still refused", () => {
    expect(fileType(file('photo.jpg', 'image/png'))).toBe('image/png') // the bytes are checked downstream
    expect(fileType(file('data.xls', 'application/vnd.ms-excel'))).toBe('application/vnd.ms-excel')
    expect(attachmentProblem(file('data.xls', 'application/vnd.ms-excel'))).toBe('oldOffice') // refused, saying to save it as .xlsx
    expect(attachmentProblem(file('tool.exe', ''))).toBe('type')
    expect(attachmentProblem(file('image.png', 'image/bmp'))).toBe('type')
  })
})

describe('uploadAttachment', () => {
  it('says the user is signed out when the session ended meanwhile (another tab signed out)', async () => {
    const file = new File(['%PDF-1.4'], 'notes.pdf', { type: 'application/pdf' })
    const error = await uploadAttachment(file).catch((e: unknown) => e)
    for (const locale of ['zh-CN', 'en'] as const) {
      const { t } = makeI18n(locale).global
      expect(errorText(error, t)).toBe(t('auth.signedOut'))
    }
  })
})
