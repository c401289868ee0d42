// storage-js (through the web app's own @supabase/supabase-js) against the local stack's Storage.
// Run by tests/localbase/storage/test_storage_js.py with SUPABASE_URL, SUPABASE_ANON_KEY and two
// users' credentials in the environment; prints one JSON line per check and exits non-zero on
// the first failure. Covers raw (Buffer, chunked stream) and multipart (Blob) uploads, list,
// download, exists, info, signed URLs, move, copy, remove, and another user and anon refused.
import { createClient } from '@supabase/supabase-js'
import { Readable } from 'node:stream'

const url = process.env.SUPABASE_URL
const anonKey = process.env.SUPABASE_ANON_KEY
const [ownerEmail, ownerPassword, ownerId] = process.env.OWNER.split(' ')
const [otherEmail, otherPassword] = process.env.OTHER.split(' ')

// Node 20 has no WebSocket; this script never opens a realtime channel, so say so loudly if it did.
class NoRealtime {
  constructor() {
    throw new Error('realtime is not used by the storage checks')
  }
}
const options = { auth: { persistSession: false }, realtime: { transport: NoRealtime } }

function check(name, ok, detail) {
  console.log(JSON.stringify({ check: name, ok: Boolean(ok), detail }))
  if (!ok) process.exit(1)
}

async function signedIn(email, password) {
  const client = createClient(url, anonKey, options)
  const { error } = await client.auth.signInWithPassword({ email, password })
  if (error) throw error
  return client
}

const owner = await signedIn(ownerEmail, ownerPassword)
const other = await signedIn(otherEmail, otherPassword)
const anon = createClient(url, anonKey, options)
const mine = owner.storage.from('attachments')
const dir = `${ownerId}/js`

let r = await mine.upload(`${dir}/raw.txt`, Buffer.from('raw body'), { contentType: 'text/plain' })
check('upload raw Buffer', !r.error && r.data.fullPath === `attachments/${dir}/raw.txt`, r.error ?? r.data)
r = await mine.upload(`${dir}/blob.md`, new Blob(['# blob'], { type: 'text/markdown' }), { contentType: 'text/markdown' })
check('upload multipart Blob', !r.error, r.error ?? r.data)
const stream = Readable.from([Buffer.from('chunk one, '), Buffer.from('chunk two')])
r = await mine.upload(`${dir}/stream.txt`, stream, { contentType: 'text/plain', duplex: 'half' })
check('upload chunked stream', !r.error, r.error ?? r.data)
r = await mine.upload(`${dir}/raw.txt`, Buffer.from('again'), { contentType: 'text/plain' })
check('duplicate refused', r.error && r.error.statusCode === '409', r.error)
r = await mine.upload(`${dir}/evil.html`, Buffer.from('<script>'), { contentType: 'text/html' })
check('mime refused', r.error && r.error.statusCode === '415', r.error)

r = await mine.list(dir)
check('list', !r.error && r.data.map((f) => f.name).join() === 'blob.md,raw.txt,stream.txt', r.error ?? r.data)
r = await mine.download(`${dir}/stream.txt`)
check('download', !r.error && (await r.data.text()) === 'chunk one, chunk two', r.error)
check('exists', (await mine.exists(`${dir}/raw.txt`)).data === true)
check('not exists', (await mine.exists(`${dir}/nope.txt`)).data === false)
r = await mine.info(`${dir}/raw.txt`)
check('info', !r.error && r.data.size === 8 && r.data.contentType === 'text/plain', r.error ?? r.data)

r = await mine.createSignedUrl(`${dir}/raw.txt`, 60)
check('sign', !r.error && r.data.signedUrl.includes('token='), r.error ?? r.data)
let fetched = await fetch(r.data.signedUrl)
check('signed fetch', fetched.status === 200 && (await fetched.text()) === 'raw body', fetched.status)
r = await mine.createSignedUrls([`${dir}/raw.txt`, `${dir}/none.txt`], 60)
check('sign many', !r.error && r.data[0].signedUrl && r.data[1].error, r.error ?? r.data)
r = await mine.createSignedUploadUrl(`${dir}/signed-up.txt`)
check('signed upload url', !r.error && r.data.token, r.error ?? r.data)
r = await anon.storage.from('attachments').uploadToSignedUrl(`${dir}/signed-up.txt`, r.data.token, Buffer.from('via token'), { contentType: 'text/plain' })
check('upload to signed url', !r.error, r.error ?? r.data)

r = await mine.move(`${dir}/raw.txt`, `${dir}/moved.txt`)
check('move', !r.error, r.error)
r = await mine.copy(`${dir}/moved.txt`, `${dir}/copied.txt`)
check('copy', !r.error && r.data.path === `attachments/${dir}/copied.txt`, r.error ?? r.data)

for (const [who, client] of [['other user', other], ['anon', anon]]) {
  const theirs = client.storage.from('attachments')
  r = await theirs.download(`${dir}/moved.txt`)
  check(`${who}: download refused`, r.error, r.error)
  r = await theirs.list(dir)
  check(`${who}: list empty`, !r.error && r.data.length === 0, r.error ?? r.data)
  r = await theirs.createSignedUrl(`${dir}/moved.txt`, 60)
  check(`${who}: sign refused`, r.error, r.error)
  r = await theirs.upload(`${dir}/intrude.txt`, Buffer.from('x'), { contentType: 'text/plain' })
  check(`${who}: upload refused`, r.error && r.error.statusCode === '403', r.error)
  r = await theirs.update(`${dir}/moved.txt`, Buffer.from('x'), { contentType: 'text/plain' })
  check(`${who}: update refused`, r.error, r.error)
  r = await theirs.move(`${dir}/moved.txt`, `${dir}/taken.txt`)
  check(`${who}: move refused`, r.error, r.error)
  r = await theirs.copy(`${dir}/moved.txt`, `${dir}/taken.txt`)
  check(`${who}: copy refused`, r.error, r.error)
  r = await theirs.remove([`${dir}/moved.txt`])
  check(`${who}: remove deletes nothing`, !r.error && r.data.length === 0, r.error ?? r.data)
}

r = await mine.remove([`${dir}/moved.txt`, `${dir}/copied.txt`, `${dir}/blob.md`, `${dir}/stream.txt`, `${dir}/signed-up.txt`])
check('remove', !r.error && r.data.length === 5, r.error ?? r.data)
r = await mine.list(dir)
check('empty after remove', !r.error && r.data.length === 0, r.error ?? r.data)
