-- An answer's image tokens are charged once, at the image weight. DashScope counts an image's
-- tokens inside `input_tokens` and reports them again as `image_tokens` (both protocols; the spec:
-- "`input_tokens` already includes `image_tokens`"), and `usage_charge` weighed all of
-- `input_tokens` at the input weight and then `image_tokens` again at the image weight: every
-- question with an image was charged its image twice (at the default weights, an image of 1,247
-- tokens cost 2,494 allowance tokens). Reasoning, which DashScope likewise counts inside
-- `output_tokens`, was already taken out before the output weight.
--
-- Now the image tokens are taken out of the input the same way (never below zero). Same function
-- otherwise, PL/pgSQL as 20261202000438 made it; charges already settled are left as they were.

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
    select ceil(greatest(coalesce(input_tokens, 0) - coalesce(image_tokens, 0), 0) * coalesce(w.input_weight, 1)
                + coalesce(image_tokens, 0) * coalesce(w.image_weight, 1)
                + greatest(coalesce(output_tokens, 0) - coalesce(reasoning_tokens, 0), 0) * coalesce(w.output_weight, 1)
                + coalesce(reasoning_tokens, 0) * coalesce(w.reasoning_weight, 1)
                + coalesce(search_calls, 0) * coalesce(w.search_call_tokens, 0))::bigint
      from (select 1) one
      left join lateral (select * from public.usage_weights uw
                          where uw.model = coalesce(usage_charge.model, '*') or uw.model = '*'
                          order by uw.model = '*' limit 1) w on true);
end;
$$;
