"""The PostgREST-compatible REST service mounted at /rest/v1."""
