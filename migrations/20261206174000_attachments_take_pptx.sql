-- A PowerPoint presentation (.pptx) is an attachment like a Word document or an Excel workbook
-- (pdf, txt, md, docx, csv, xlsx before): users upload slides often, to have them summarised,
-- checked or turned into notes. The worker reads each slide's text in the order the presentation
-- shows them (worker/pptx.py: its title, shapes, tables and speaker notes, under `[Slide <n>]`),
-- bounded as a Word document is. The bucket refused it (415 invalid_mime_type), so the web app
-- refused it before uploading, and /v1 refused it as not a document. The older binary .ppt
-- (application/vnd.ms-powerpoint) stays refused: nothing here reads it.
-- The bucket's other types and its size limit stay as they are.
update storage.buckets
   set allowed_mime_types = array_append(
         allowed_mime_types, 'application/vnd.openxmlformats-officedocument.presentationml.presentation')
 where id = 'attachments'
   and not ('application/vnd.openxmlformats-officedocument.presentationml.presentation' = any (allowed_mime_types));
