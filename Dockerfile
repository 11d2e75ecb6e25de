# One image for the four services; the command picks the service: `python -m intake`.
# Build: docker build -t durchstarten .   (used by docker-compose.yml)
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir 'uv>=0.9,<1'
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/
COPY deploy/pyproject.toml deploy/
COPY services/intake/pyproject.toml services/intake/
COPY services/coaching/pyproject.toml services/coaching/
COPY services/courses/pyproject.toml services/courses/
COPY services/reporting/pyproject.toml services/reporting/
RUN uv sync --frozen --no-dev --no-install-workspace --all-packages
COPY . .
RUN uv sync --frozen --no-dev --all-packages

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app durchstarten
COPY --from=build --chown=root:root /app /app
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DURCHSTARTEN_HTTP_HOST=0.0.0.0 \
    DURCHSTARTEN_LOG_FORMAT=json
USER durchstarten
ENTRYPOINT ["python", "-m"]
CMD ["intake"]
