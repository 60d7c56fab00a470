# syntax=docker/dockerfile:1
# Build stage: resolve the locked dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV UV_PROJECT_ENVIRONMENT=/app/.venv UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY market market
COPY services services
COPY schemas schemas
RUN uv sync --locked --no-dev

# Final stage: no compilers, no uv; a non-root user.
FROM python:3.11-slim
RUN useradd --system --uid 10001 --home /app market
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY market market
COPY services services
COPY schemas schemas
COPY migrations migrations
COPY seed seed
COPY alembic.ini ./
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 ENVIRONMENT=production HOST=0.0.0.0 PORT=8000 \
    LOG_FORMAT=json DATA_DIR=/tmp/market
USER market
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status == 200 else 1)"
CMD ["market", "serve"]
