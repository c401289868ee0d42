-- Tree reads are never JIT-compiled.
--
-- chat_forks, chat_path and chat_descend are a few index probes each (a path of 200 messages in
-- ~2 ms at 1M messages), but the planner's estimate for chat_forks multiplies a set-returning
-- function's default 1,000 rows by a session's roots, and passed jit_above_cost (100,000) in the
-- 12-02 19:30 make bench: every call then spent ~220 ms compiling (LLVM inlining and optimisation)
-- a query that ran in 2 ms, and the `‹ n / m ›` switcher of a long conversation took a quarter of
-- a second to appear. Whether the estimate crosses the line depends on the statistics of the hour,
-- so the functions turn JIT off for what they run, whatever the server's setting. `jit` is a
-- user-settable parameter: the same statement works on hosted Supabase, where the functions'
-- owner is `postgres`. Nothing else changes (tests/db/test_trees.py).

alter function public.chat_forks(uuid) set jit = off;
alter function public.chat_path(uuid) set jit = off;
alter function public.chat_descend(uuid) set jit = off;
