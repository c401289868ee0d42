-- A question sent as its user (REST, the API, /v1) meets three SQL-language helpers: the guest
-- check in chat_messages' insert policy (is_guest), the admission's reservation
-- (usage_reservation), and at the answer's end the charge (usage_charge). With `set search_path`
-- Postgres cannot inline them, so it planned each body again in every statement that called it:
-- ~0.3 ms of Postgres CPU per question sent as a user (A/B of inserts as `authenticated`). As
-- PL/pgSQL their plans are kept for the session. Same bodies, same results (the reservation and
-- charge of every model's weights, and the guest claim, unchanged).

create or replace function public.is_guest() returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
  return coalesce((auth.jwt() ->> 'is_anonymous')::boolean, false);
end;
$$;

create or replace function public.usage_reservation(model text, content text) returns bigint
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_variable
begin
  return (
    select coalesce(w.reserve_tokens, 2000)
           + ceil(char_length(coalesce(content, '')) * coalesce(w.input_weight, 1))::bigint
      from (select 1) one
      left join lateral (select * from public.usage_weights uw
                          where uw.model = coalesce(usage_reservation.model, '*')
                             or uw.model = '*'
                          order by uw.model = '*' limit 1) w on true);
end;
$$;

create or replace function public.usage_charge(
  model text, input_tokens integer, output_tokens integer, reasoning_tokens integer,
  image_tokens integer, search_calls integer
) returns bigint
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_variable
begin
  return (
    select ceil(coalesce(input_tokens, 0) * coalesce(w.input_weight, 1)
                + greatest(coalesce(output_tokens, 0) - coalesce(reasoning_tokens, 0), 0) * coalesce(w.output_weight, 1)
                + coalesce(reasoning_tokens, 0) * coalesce(w.reasoning_weight, 1)
                + coalesce(image_tokens, 0) * coalesce(w.image_weight, 1)
                + coalesce(search_calls, 0) * coalesce(w.search_call_tokens, 0))::bigint
      from (select 1) one
      left join lateral (select * from public.usage_weights uw
                          where uw.model = coalesce(usage_charge.model, '*') or uw.model = '*'
                          order by uw.model = '*' limit 1) w on true);
end;
$$;
