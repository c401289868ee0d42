"""Supabase Storage (storage-api) on /storage/v1 of the local gateway; see service.py."""
