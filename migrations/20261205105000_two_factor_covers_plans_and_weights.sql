-- Two-factor sign-in covers an admin's changes to plans and usage weights. Every table of a user's
-- data and `user_plans` (an admin's plan changes and account disabling) require aal2 of a user
-- with a verified factor (20261201190350, 20261201193937), but `plans` and `usage_weights` only
-- asked `is_admin()`: an admin's stolen password, without the code, could raise every plan's
-- allowance or make every model free. Now their writes need aal2 too (restrictive, per verb);
-- reading them stays open to every signed-in user (what the usage page and admission show).

create policy "plans: two-factor admins need aal2 to create" on public.plans
  as restrictive for insert to authenticated with check ((select public.mfa_satisfied()));
create policy "plans: two-factor admins need aal2 to update" on public.plans
  as restrictive for update to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
create policy "plans: two-factor admins need aal2 to delete" on public.plans
  as restrictive for delete to authenticated using ((select public.mfa_satisfied()));

create policy "usage_weights: two-factor admins need aal2 to create" on public.usage_weights
  as restrictive for insert to authenticated with check ((select public.mfa_satisfied()));
create policy "usage_weights: two-factor admins need aal2 to update" on public.usage_weights
  as restrictive for update to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
create policy "usage_weights: two-factor admins need aal2 to delete" on public.usage_weights
  as restrictive for delete to authenticated using ((select public.mfa_satisfied()));
