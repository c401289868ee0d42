"""Litestar facade over Supabase: the seed's REST endpoints and WebSocket chat."""

from api.app import create_app

__all__ = ["create_app"]
