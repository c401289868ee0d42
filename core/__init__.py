"""Shared ground for localbase, api and worker: settings, JWT, logging."""
