"""Litestar facade over Supabase: the seed's REST endpoints and WebSocket chat."""
