-- An answer's search vector is computed once, when the answer is final, instead of on every write
-- of it. A stored generated column is recomputed on every UPDATE of its row, and the worker writes
-- a streaming answer up to four times a second (its text so far, lease renewals): each write
-- tokenised the whole text so far again and put every term into the GIN index again, so an
-- answer's search cost grew with the square of its length, and each streaming write's realtime
-- notification carried the vector as well as the text. Questions are final when inserted. A
-- streaming answer is not found by search until it ends (completed, error or cancelled), which is
-- also when its text stops changing under the reader.

alter table public.chat_messages drop column search_vector;
alter table public.chat_messages
  add column search_vector tsvector generated always as (
    case when message_type = 'user' or status not in ('pending', 'streaming')
         then public.search_document(content) end
  ) stored;
create index chat_messages_search_idx on public.chat_messages using gin (search_vector);
