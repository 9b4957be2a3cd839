# The feedback-pipeline image: `feedback collector`, `feedback worker`, `feedback migrate`, ...
# Build: docker build -t feedback-pipeline . (docker-compose.yml builds it for the whole stack).
# Dependencies come from the locked uv.lock only (`uv sync --frozen --no-dev`), never re-resolved.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# The same uv as the Makefile (UV_VERSION there).
ARG UV_VERSION=0.13.8
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN pip install uv==${UV_VERSION}
WORKDIR /app
# The locked dependencies first: this layer is rebuilt only when uv.lock or pyproject.toml change.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --no-editable
# Then the project itself, installed into the venv as a wheel (no reference back to /app).
COPY schemas ./schemas
COPY producers ./producers
COPY consumers ./consumers
COPY operations ./operations
COPY exports ./exports
COPY quality ./quality
COPY runtime ./runtime
COPY feedback ./feedback
COPY exports ./exports
COPY quality ./quality
COPY annotation ./annotation
COPY sql ./sql
RUN uv sync --frozen --no-dev --no-editable \
    && /app/.venv/bin/feedback --help >/dev/null

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /var/lib/feedback feedback
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FEEDBACK_HTTP_ADDR=0.0.0.0:8080 \
    FEEDBACK_LOG_FORMAT=json
# Relative defaults (./.data/...: keys file, embedded ClickHouse) land in the user's home.
WORKDIR /var/lib/feedback
USER feedback
EXPOSE 8080
ENTRYPOINT ["feedback"]
CMD ["--help"]
