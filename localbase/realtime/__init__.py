"""Supabase Realtime over our Postgres: Phoenix channels, postgres_changes, broadcast, presence."""
