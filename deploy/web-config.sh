#!/bin/sh
# Runtime configuration for the SPA, so one image serves any Supabase project.
set -eu
cat > /usr/share/nginx/html/env.json <<JSON
{"supabaseUrl": "${SUPABASE_URL}", "supabaseAnonKey": "${SUPABASE_ANON_KEY}", "apiUrl": "${API_URL:-}"}
JSON
