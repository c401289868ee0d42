-- An Excel workbook (.xlsx) is an attachment like a CSV file (pdf, txt, md, docx, csv before): a
-- table is what users most often ask a model about, and most tables are kept in Excel, not
-- exported to CSV. The worker reads each sheet as CSV rows under its name (worker/extraction.py,
-- openpyxl: the values Excel shows, a formula's last result), bounded as a Word document is. The
-- bucket refused it (415 invalid_mime_type), so the web app refused it before uploading, and /v1
-- refused it as not a document. The older binary .xls (application/vnd.ms-excel) stays refused:
-- openpyxl does not read it.
-- The bucket's other types and its size limit stay as they are.
update storage.buckets
   set allowed_mime_types = array_append(
         allowed_mime_types, 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
 where id = 'attachments'
   and not ('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' = any (allowed_mime_types));
