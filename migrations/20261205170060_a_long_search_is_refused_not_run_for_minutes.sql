-- A long search is refused, and the query is built in time linear in its length. search_query
-- joined a CJK run's bigrams one `&&` at a time, each copying the whole tsquery so far: quadratic
-- work, 2.5 s of a backend's CPU for 8,000 Chinese characters, 16 s (past authenticated's 8 s
-- statement_timeout, a 500) for 20,000 and minutes for 100,000, which any signed-in user could send
-- to search_messages (the web's search door; nothing bounded its length) or to search_query itself.
-- Now the terms are joined as text and parsed once (the same tsquery), and search_message_hits
-- refuses a query over 1,000 characters with `SearchTooLong` (REST 400) before any work; the API's
-- `q` was already bounded at 200.

create or replace function public.search_query(q text) returns tsquery
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
  english tsquery := websearch_to_tsquery('pg_catalog.english'::regconfig,
                                         regexp_replace(coalesce(q, ''), public.search_cjk_pattern(), ' ', 'g'));
  cjk text;
begin
  -- Each CJK run as the AND of its bigrams (a single character: its unigram), the runs ANDed in
  -- order. The terms hold CJK characters only, so quote_literal makes each one a quoted lexeme.
  select string_agg(quote_literal(case when char_length(x.run) = 1 then x.run else substr(x.run, g.i, 2) end),
                    ' & ' order by r.run_no, g.i)
    into cjk
    from regexp_matches(coalesce(q, ''), public.search_cjk_pattern(), 'g') with ordinality as r(m, run_no)
    cross join lateral (select r.m[1] as run) x
    cross join lateral generate_series(1, greatest(char_length(x.run) - 1, 1)) as g(i);
  if cjk is null then
    return english;
  end if;
  return case when numnode(english) = 0 then cjk::tsquery else english && cjk::tsquery end;
end;
$$;

-- 20261205120000_two_factor_covers_every_definer_door.sql's, with the length checked first (before
-- the query is parsed).
create or replace function public.search_message_hits(
  query text, session uuid, max_results integer, skip integer
) returns table (id uuid, rank real)
language plpgsql stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  tsq tsquery;
  page integer := least(greatest(max_results, 1), 100);
  skipped integer := greatest(skip, 0);
  returned integer;
  window_full boolean;
  ranked integer;
  edge_at timestamptz;
  edge_id uuid;
begin
  if char_length(query) > 1000 then
    perform public.raise_refusal(400, 'SearchTooLong', 'A search is at most 1000 characters.',
                                 jsonb_build_object('limit', 1000, 'length', char_length(query)));
  end if;
  tsq := public.search_query(query);
  if numnode(tsq) = 0 or not public.mfa_satisfied() then
    return;
  end if;
  return query
    select c.id, ts_rank(c.search_vector, tsq) as rank
      from (select m.id, m.content, m.created_at, m.search_vector
              from public.chat_messages m
             where m.user_id = auth.uid()
               and m.search_vector @@ tsq
               and (session is null or m.session_id = session)
             order by m.created_at desc, m.id desc
             limit 500) c
     where public.search_recheck(query, c.content)
     order by 2 desc, c.created_at desc, c.id
     limit page offset skipped;
  get diagnostics returned = row_count;
  if returned = page then
    return;
  end if;
  -- The page reaches past the ranked matches: how many there are, and the oldest of the 500.
  select count(*) = 500, count(*) filter (where public.search_recheck(query, c.content)),
         (array_agg(c.created_at order by c.created_at, c.id))[1], (array_agg(c.id order by c.created_at, c.id))[1]
    into window_full, ranked, edge_at, edge_id
    from (select m.id, m.content, m.created_at
            from public.chat_messages m
           where m.user_id = auth.uid()
             and m.search_vector @@ tsq
             and (session is null or m.session_id = session)
           order by m.created_at desc, m.id desc
           limit 500) c;
  if not window_full then
    return;  -- every match was ranked
  end if;
  return query
    select m.id, null::real
      from public.chat_messages m
     where m.user_id = auth.uid()
       and m.search_vector @@ tsq
       and (session is null or m.session_id = session)
       and (m.created_at, m.id) < (edge_at, edge_id)
       and public.search_recheck(query, m.content)
     order by m.created_at desc, m.id desc
     limit page - returned offset greatest(skipped - ranked, 0);
end;
$$;
