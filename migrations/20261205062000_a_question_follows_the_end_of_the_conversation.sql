-- A question sent without a parent follows the end of the conversation, in two cases where it did
-- not:
--   * A question sent while the one before it waited for its claim forked the chat. Q2 sent under
--     an unanswered Q1 moves under Q1's answer when the worker creates it (worker_claim), and that
--     answer is then the session's newest row; Q3 followed "the newest message" and became Q2's
--     sibling: the chat forked without being marked branched, and Q3's history left Q2 out. (Two
--     questions claimed in one batch did the same at random: their answers share `created_at`.)
--   * In a branched chat, deleting the turn the user was on left no current leaf (the foreign key
--     sets it null), and the next question became a new root with no history, though the page
--     (chat_path) showed the conversation ending at the newest message.
-- Now the start is what chat_path starts from (the current leaf in a branched chat, else the
-- newest message) and the question follows its newest descendants down to a leaf. The walk is a
-- loop of index probes, usually one that finds no child, so a bulk insert of a linear
-- conversation still links up row by row at one probe each.
--
-- The function is 20261201180531's `chat_messages_place` with the "not given" branch changed.

create or replace function public.chat_messages_place() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  unset constant uuid := '00000000-0000-0000-0000-000000000000';
  is_branched boolean;
  leaf uuid;
  newest uuid;
  child uuid;
  parent public.chat_messages;
begin
  if new.message_type = 'assistant' then
    new.parent_id := new.reply_to;
    new.answer_no := coalesce(new.answer_no, 1);
    return new;
  end if;
  if new.parent_id is not distinct from unset then
    -- Follow the conversation: from where chat_path starts, down its newest descendants.
    select s.branched, s.current_leaf_id, n.id into is_branched, leaf, newest
      from public.chat_sessions s
      left join lateral (select m.id from public.chat_messages m where m.session_id = s.id
                          order by m.created_at desc, m.id desc limit 1) n on true
     where s.id = new.session_id;
    new.parent_id := case when is_branched then coalesce(leaf, newest) else newest end;
    loop
      select c.id into child from public.chat_messages c
       where c.parent_id = new.parent_id
       order by c.created_at desc, c.id desc limit 1;
      exit when not found;
      new.parent_id := child;
    end loop;
    return new;
  end if;
  if new.parent_id is null then
    if exists (select 1 from public.chat_messages m where m.session_id = new.session_id and m.parent_id is null) then
      update public.chat_sessions s set branched = true where s.id = new.session_id and not s.branched;
    end if;
    return new;
  end if;
  select * into parent from public.chat_messages m where m.id = new.parent_id;
  if not found or parent.session_id <> new.session_id then
    raise exception 'parent_id must be a message of the same session' using errcode = '42501';
  end if;
  if parent.message_type = 'user' then
    -- Follow the question's newest answer; an unanswered question keeps it until the worker
    -- claims its answer (worker_claim moves it under the answer then).
    new.parent_id := coalesce((select a.id from public.chat_messages a where a.reply_to = parent.id
                                order by a.answer_no desc limit 1), parent.id);
  end if;
  if exists (select 1 from public.chat_messages m where m.parent_id = new.parent_id) then
    update public.chat_sessions s set branched = true where s.id = new.session_id and not s.branched;
  end if;
  return new;
end;
$$;
revoke execute on function public.chat_messages_place() from public, anon, authenticated;
