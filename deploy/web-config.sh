#!/bin/sh
# Runtime configuration for the SPA, so one image serves any Supabase project: /config.js (what
# web/index.html loads before the app, as webserve writes it under `make run`) and the page's
# Content-Security-Policy for nginx (the same policy webserve sends: network only to this origin,
# Supabase and the API). Variables as docs/ENVS.md names them:
#   WEB_SUPABASE_URL (else SUPABASE_URL): the Supabase URL the browser uses
#   SUPABASE_ANON_KEY: the project's anon key (public by design)
#   WEB_API_URL: the API's public URL (the account's export and deletion, the API keys page);
#                unset, the page uses http://127.0.0.1:8000, right on this machine only
set -eu
root="${WEB_ROOT:-/usr/share/nginx/html}"
snippets="${NGINX_SNIPPETS:-/etc/nginx/snippets}"

# A JSON string's inside: backslashes and quotes escaped, line breaks dropped.
json() { printf '%s' "$1" | tr -d '\r\n' | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }
# scheme://host[:port] of a URL, and its WebSocket twin (ws:// or wss://).
origin() { printf '%s' "$1" | sed -nE 's#^(https?)://([^/?#]+).*#\1://\2#p'; }
ws_origin() { origin "$1" | sed -e 's#^https://#wss://#' -e 's#^http://#ws://#'; }

supabase_url="${WEB_SUPABASE_URL:-${SUPABASE_URL:-}}"
supabase_url="${supabase_url%/}"
api_url="${WEB_API_URL:-}"
api_url="${api_url%/}"
[ -n "$supabase_url" ] || echo "web-config: neither WEB_SUPABASE_URL nor SUPABASE_URL is set" >&2
[ -n "$api_url" ] || echo "web-config: WEB_API_URL is unset; the page will call the API at http://127.0.0.1:8000" >&2

cat > "$root/config.js" <<JS
window.__CHATGALAXY_CONFIG__ = {"supabaseUrl": "$(json "$supabase_url")", "supabaseAnonKey": "$(json "${SUPABASE_ANON_KEY:-}")", "apiUrl": "$(json "$api_url")"};
JS

connect="'self'"
for source in "$(origin "$supabase_url")" "$(ws_origin "$supabase_url")" "$(origin "$api_url")" "$(ws_origin "$api_url")"; do
  case " $connect " in
    *" $source "*) ;;
    *) [ -z "$source" ] || connect="$connect $source" ;;
  esac
done
csp="default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https: http:; font-src 'self' data:; connect-src $connect; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
mkdir -p "$snippets"
printf 'add_header Content-Security-Policy "%s" always;\n' "$csp" > "$snippets/chatgalaxy-csp.conf"
