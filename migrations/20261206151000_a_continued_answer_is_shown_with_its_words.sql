-- An answer that continued a /v1 request's words (Qwen's partial mode, 20261206142000) showed in
-- the web app (the day's API chat) and its Markdown export without them: its row holds the
-- continuation only (what /v1 returns and what was billed), the words are the question's
-- `question_contexts.parameters ->> 'prefix'`, which the app did not read. A prefilled
-- '{"name": "' showed as 'Ada"}', a sentence without its start, a code fence closed but never opened.
--
-- `continued_words(chat_messages)` is a computed field for PostgREST (`select=...,continued_words`):
-- the words an assistant row continues, null for any other row and for an answer to a question
-- without them. Security invoker: the caller's RLS on question_contexts decides (only its owner
-- reads it), so it says nothing of another user's question; one primary-key probe per answer read.
-- Not overloaded (PostgREST passes the row as a record, which an overloaded name cannot take).

create function public.continued_words(public.chat_messages) returns text
language sql stable parallel safe
security invoker
set search_path = ''
as $$
  select c.parameters ->> 'prefix'
    from public.question_contexts c
   where $1.message_type = 'assistant' and c.message_id = $1.reply_to
   limit 1
$$;

revoke execute on function public.continued_words(public.chat_messages) from public, anon;
grant execute on function public.continued_words(public.chat_messages) to authenticated, service_role;
