# The ChatGalaxy SPA behind nginx (seed section 7); web-config.sh writes /config.js and the page's
# CSP from the environment at start. Build from the repository root:
#   docker build -f deploy/web.Dockerfile -t chatgalaxy-web .
FROM node:20-alpine AS builder
WORKDIR /app
COPY web/package.json web/package-lock.json ./
RUN npm ci
COPY web/ ./
RUN npm run build

FROM nginx:alpine
COPY --from=builder /app/dist /usr/share/nginx/html
COPY deploy/nginx.conf /etc/nginx/conf.d/default.conf
COPY deploy/nginx-headers.conf /etc/nginx/snippets/chatgalaxy-headers.conf
COPY deploy/web-config.sh /docker-entrypoint.d/40-chatgalaxy-config.sh
EXPOSE 80
