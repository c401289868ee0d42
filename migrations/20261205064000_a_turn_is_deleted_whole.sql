-- A turn is deleted whole: a user deletes their questions (and, by cascade, the answers), never an
-- answer on its own. Deleting answer 1 alone left its question without an answer; asking for
-- answer 1 again (`request_answer(question, 1)`, which the web app does for a question with no
-- answer) made a new answer 1 that admission does not price (answer 1 is the question's, priced
-- when it was asked) and whose charge found the question's reservation already settled: an answer
-- past the allowance, charged nothing, as often as wanted. The worker's sweep answered such a
-- question again the same way.
--
-- The web app and the API delete only questions and chats; answers go with them (`reply_to` and
-- `session_id` cascade, and the chat's delete as the owner is unchanged).

drop policy "chat_messages: owner deletes" on public.chat_messages;
create policy "chat_messages: owner deletes questions" on public.chat_messages
  for delete to authenticated using (user_id = (select auth.uid()) and message_type = 'user');
