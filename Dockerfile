# Two images from one build (used by docker-compose.yml):
#
#   docker build -t durchstarten .                          the four services (the default):
#                                                           the command picks one, `intake`
#   docker build --target tools -t durchstarten-tools .    the topic and ACL job:
#                                                           `durchstarten_deploy topics`
#
# The service image holds the shared library and the four services (their code, SQL and
# migrations) with their third-party dependencies, nothing else: no tests, docs, benchmarks,
# simulator or local-stack code. The tools image adds the deploy CLI and what it imports.
# Workspace packages are installed editable, so each service finds its migrations beside
# its sources (services/<name>/migrations). The build context leaves out every secret,
# state folder and cache (.dockerignore).

FROM python:3.11-slim AS base
RUN pip install --no-cache-dir 'uv>=0.13,<1'
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# uv reads the whole workspace's manifests and the one lock; dependencies are installed
# before the code is copied, so a code change does not reinstall them.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/
COPY deploy/pyproject.toml deploy/
COPY simulator/pyproject.toml simulator/
COPY bench/pyproject.toml bench/
COPY services/intake/pyproject.toml services/intake/
COPY services/coaching/pyproject.toml services/coaching/
COPY services/courses/pyproject.toml services/courses/
COPY services/reporting/pyproject.toml services/reporting/

FROM base AS build-services
RUN uv sync --frozen --no-dev --no-install-workspace \
    --package intake --package coaching --package courses --package reporting
COPY shared/src shared/src
COPY services/intake/src services/intake/src
COPY services/intake/migrations services/intake/migrations
COPY services/coaching/src services/coaching/src
COPY services/coaching/migrations services/coaching/migrations
COPY services/courses/src services/courses/src
COPY services/courses/migrations services/courses/migrations
COPY services/reporting/src services/reporting/src
COPY services/reporting/migrations services/reporting/migrations
RUN uv sync --frozen --no-dev \
    --package intake --package coaching --package courses --package reporting \
    && python -m compileall -q shared/src services

FROM base AS build-tools
RUN uv sync --frozen --no-dev --no-install-workspace --package durchstarten-deploy
COPY shared/src shared/src
COPY services/intake/src services/intake/src
COPY simulator/src simulator/src
COPY deploy/src deploy/src
RUN uv sync --frozen --no-dev --package durchstarten-deploy \
    && python -m compileall -q shared/src services simulator deploy

FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --home-dir /app durchstarten
WORKDIR /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DURCHSTARTEN_HTTP_HOST=0.0.0.0 \
    DURCHSTARTEN_LOG_FORMAT=json
ENTRYPOINT ["python", "-m"]

FROM runtime AS tools
# Owned by root: the job cannot change its own code.
COPY --from=build-tools /app/.venv /app/.venv
COPY --from=build-tools /app/shared /app/shared
COPY --from=build-tools /app/services/intake /app/services/intake
COPY --from=build-tools /app/simulator /app/simulator
COPY --from=build-tools /app/deploy /app/deploy
USER durchstarten
CMD ["durchstarten_deploy", "topics"]

FROM runtime AS service
# Owned by root: a service cannot change its own code.
COPY --from=build-services /app/.venv /app/.venv
COPY --from=build-services /app/shared /app/shared
COPY --from=build-services /app/services /app/services
USER durchstarten
CMD ["intake"]
