"""GoTrue-compatible Auth, mounted at /auth/v1."""
