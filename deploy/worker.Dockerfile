# The ChatGalaxy worker (answers user messages through DashScope); it also carries the data
# lifecycle jobs: `docker compose run --rm worker python -m ops archive --older-than 90d`.
# Build from the repository root:
#   docker build -f deploy/worker.Dockerfile -t chatgalaxy-worker .
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
COPY ops ops
COPY migrations migrations
RUN pip install --no-cache-dir .
USER nobody
# SIGTERM: stop claiming, finish or release in-flight answers, then exit.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "worker"]
