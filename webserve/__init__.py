"""The SPA's static server: serves the built `web/dist` with an SPA fallback, long-lived caching
for content-hashed assets, and `/config.js`, the runtime configuration written from
`core.settings` so one build runs against any Supabase project."""
