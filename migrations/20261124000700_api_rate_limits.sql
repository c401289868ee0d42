-- api_rate_limits: fixed-window request counters shared by every API replica. Counters are
-- not user data; only service_role (the API's own key) may touch them, through one function.

create table public.api_rate_limits (
  bucket text primary key check (char_length(bucket) <= 200),
  window_start timestamptz not null,
  hits integer not null check (hits >= 0)
);

alter table public.api_rate_limits enable row level security;
revoke all on public.api_rate_limits from public, anon, authenticated;
create policy "api_rate_limits: service role only" on public.api_rate_limits
  for all to service_role using (true) with check (true);

-- Count one hit on `bucket` in the current `window_seconds` window and say whether it is within
-- `max_hits`. One row per bucket: a new window resets the count in the same upsert, so the
-- table never grows beyond the number of distinct users and addresses.
create or replace function public.api_rate_limit_hit(bucket text, window_seconds integer, max_hits integer)
returns table (allowed boolean, hits integer, retry_after integer)
language sql
volatile
security definer
set search_path = ''
as $$
  with w as (
    select to_timestamp(floor(extract(epoch from now()) / greatest(window_seconds, 1)) * greatest(window_seconds, 1))
             as start
  ), counted as (
    insert into public.api_rate_limits as r (bucket, window_start, hits)
    select api_rate_limit_hit.bucket, w.start, 1 from w
    on conflict on constraint api_rate_limits_pkey do update
      set hits = case when r.window_start = excluded.window_start then r.hits + 1 else 1 end,
          window_start = excluded.window_start
    returning r.hits, r.window_start
  )
  select c.hits <= max_hits,
         c.hits,
         greatest(ceil(extract(epoch from c.window_start + make_interval(secs => greatest(window_seconds, 1)) - now())), 1)::int
    from counted c
$$;

revoke execute on function public.api_rate_limit_hit(text, integer, integer) from public, anon, authenticated;
grant execute on function public.api_rate_limit_hit(text, integer, integer) to service_role;
