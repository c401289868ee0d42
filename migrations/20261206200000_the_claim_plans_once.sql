-- worker_claim runs its claim on the generic plan it keeps for the session, not on a plan made
-- again at every call (issue 16: Postgres CPU per turn).
--
-- Its main statement (the answers' insert, the moved questions, the histories' call) has
-- parameters, so the plan cache weighs a custom plan per call against its generic plan. With
-- chat_messages at a production size, the custom plan for one question looked the cheaper one every time (the
-- generic one counts ten ids in every array), and the statement was planned again at every claim:
-- pg_stat_statements on the worker bench's 50 conversations over 100,000 seeded messages, 622
-- plans for 617 claims, ~0.34 ms of planning each; on the bench's own small tables the cache
-- happened to settle on the generic plan after a few calls (42 plans for 415 claims), which is why
-- the bench did not show it. The generic plan has the same shape (each id by the primary key,
-- the moved questions by chat_messages_parent_idx), as 20261203093000_claims_walk_together.sql
-- found for worker_claim_contexts' statement. The setting holds for the whole call, so the
-- statements of the triggers the answer's insert fires (its owner, its place, its search vector,
-- the session's counters) run on their generic plans too, each a probe by key.
--
-- Measured: Postgres CPU per claim on one backend, 1,000 turns, alternated three times on one
-- cluster with ~100,000 messages: 1.47-1.85 ms before, 0.88-1.19 ms after; worker_claim's own
-- time per turn in the bench over 100,000 messages (5 and 4 runs of 3): 0.95-1.59 ms before,
-- 0.51-0.76 ms after. What a claim returns is the same (tests/worker).

alter function public.worker_claim(uuid[], text, double precision, integer, integer, uuid[], bigint[])
  set plan_cache_mode = force_generic_plan;
