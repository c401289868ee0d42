-- Seed for `supabase db reset`. The product's built-in AI roles are part of the migrations
-- (they must exist in every environment), so there is nothing environment-specific to add here.
select 1;
