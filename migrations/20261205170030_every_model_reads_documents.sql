-- Every model reads documents. `models.supports_documents` said the two VL models (qwen-vl-max,
-- qwen3-vl-plus) did not, yet nothing ever acted on it: a document is extracted by the worker and
-- sent as its text before the question (README, "Documents: extract the text, not qwen-long"),
-- which a VL model reads as any model does, and a question with an image and a document must go
-- to the vision model to be answered at all. So the web app's picker and `GET /api/models` told
-- users and clients a model could not take the documents it was given and answered from. The
-- seeded rows now say what the product does; an operator who adds a model that cannot take text
-- this long sets its `max_input`, which refuses a document too long for it (DocumentTooLong).

update public.models set supports_documents = true where not supports_documents;
