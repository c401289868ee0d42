-- ai_roles: the personas. Built-in roles (created_by null) come from the seed; users may add
-- private custom roles. `slug` is the API's role_id.

create table public.ai_roles (
  id uuid primary key default gen_random_uuid(),
  slug text not null check (slug ~ '^[a-z0-9][a-z0-9_-]{1,63}$'),
  name varchar(100) not null check (char_length(btrim(name)) > 0),
  description text check (description is null or char_length(description) <= 2000),
  system_prompt text not null check (char_length(btrim(system_prompt)) between 1 and 8000),
  avatar_url varchar(500),
  personality jsonb not null default '{}'::jsonb check (jsonb_typeof(personality) = 'object'),
  is_active boolean not null default true,
  sort_order integer not null default 0,
  created_by uuid default auth.uid() references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index ai_roles_builtin_slug_key on public.ai_roles (slug) where created_by is null;
create unique index ai_roles_custom_slug_key on public.ai_roles (created_by, slug) where created_by is not null;
create index ai_roles_active_idx on public.ai_roles (is_active);
create index ai_roles_sort_idx on public.ai_roles (sort_order);

create trigger ai_roles_touch_updated_at before update on public.ai_roles
  for each row execute function public.touch_updated_at();

-- A custom role may not take a built-in role's slug: role_id must name one role unambiguously.
create or replace function public.ai_roles_guard_slug() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.created_by is not null
     and exists (select 1 from public.ai_roles r where r.created_by is null and r.slug = new.slug) then
    raise exception 'slug "%" is reserved by a built-in role', new.slug
      using errcode = '23505', hint = 'Choose another slug for your custom role.';
  end if;
  return new;
end;
$$;

create trigger ai_roles_guard_slug before insert or update of slug, created_by on public.ai_roles
  for each row execute function public.ai_roles_guard_slug();

insert into public.ai_roles (slug, name, description, system_prompt, is_active, sort_order, created_by) values
  ('assistant', '智能助手', '专业的AI助手，可以回答各种问题', '你是一个专业、友好的AI助手，请用简洁明了的语言回答用户问题。', true, 1, null),
  ('creative_writer', '创意作家', '富有创意的写作助手', '你是一个富有创意的作家，擅长创作故事、诗歌和各种文学作品。', true, 2, null),
  ('tech_expert', '技术专家', '专业的技术顾问', '你是一个资深的技术专家，精通各种编程语言和技术框架。', true, 3, null),
  ('casual_chat', '轻松聊天', '轻松愉快的聊天伙伴', '你是一个幽默风趣的聊天伙伴，喜欢用轻松的语调与用户交流。', true, 4, null);

alter table public.ai_roles enable row level security;

-- Everyone signed in reads the active built-in roles; a custom role is its creator's alone.
create policy "ai_roles: read built-in and own" on public.ai_roles
  for select to authenticated
  using ((created_by is null and is_active) or created_by = (select auth.uid()));
create policy "ai_roles: create own" on public.ai_roles
  for insert to authenticated with check (created_by = (select auth.uid()));
create policy "ai_roles: update own" on public.ai_roles
  for update to authenticated
  using (created_by = (select auth.uid())) with check (created_by = (select auth.uid()));
create policy "ai_roles: delete own" on public.ai_roles
  for delete to authenticated using (created_by = (select auth.uid()));

revoke all on public.ai_roles from anon;
revoke insert, update on public.ai_roles from authenticated;
grant insert (id, slug, name, description, system_prompt, avatar_url, personality, is_active, sort_order, created_by)
  on public.ai_roles to authenticated;
grant update (slug, name, description, system_prompt, avatar_url, personality, is_active, sort_order)
  on public.ai_roles to authenticated;
