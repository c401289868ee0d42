"""A Supabase-compatible local stack (Auth, REST, Realtime) on a real PostgreSQL 15."""
