-- A CSV file is an attachment like a text file (pdf, txt, md, docx before): a table exported from
-- Excel or a database is what a user most often asks a model about, and it is text, read as a text
-- file is (core/textfiles.py: UTF-8, a byte order mark's, or a region's legacy encoding, as Excel's
-- "CSV" is saved on a Chinese Windows). The bucket refused it (415 invalid_mime_type), so the web
-- app refused it before uploading, and /v1 refused it as not a document.
-- The bucket's other types and its size limit stay as they are.
update storage.buckets
   set allowed_mime_types = array_append(allowed_mime_types, 'text/csv')
 where id = 'attachments'
   and not ('text/csv' = any (allowed_mime_types));
