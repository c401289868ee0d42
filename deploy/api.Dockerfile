# The ChatGalaxy API (Litestar). Build from the repository root:
#   docker build -f deploy/api.Dockerfile -t chatgalaxy-api .
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY core core
COPY api api
COPY worker worker
COPY localbase localbase
COPY fakescope fakescope
COPY devstack devstack
COPY webserve webserve
COPY migrations migrations
RUN pip install --no-cache-dir .
USER nobody
EXPOSE 8000
ENV API_HOST=0.0.0.0 API_PORT=8000
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)" || exit 1
CMD ["python", "-m", "api"]
