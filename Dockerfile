# court-gateway: one image for the gateway (`court-gateway serve`) and its migrations (`court-gateway migrate`,
# run once per release as a Kubernetes Job before the rolling update; see docs/operations.md).
#
# Only the installed package is in the image: no tests, no benchmarks, no build tools. The simulated courts
# ship inside the package (pyproject packages `simulators`), so the same image can run `court-gateway demo`
# for a trial; `serve` never starts them.
#
# Pin the base by digest in your registry mirror (python:3.11-slim-bookworm@sha256:…) for reproducible builds.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# -- build: a virtualenv holding the package and its pinned dependencies (all ship as wheels) --------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/court-gateway
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY simulators ./simulators
RUN /opt/court-gateway/bin/pip install . \
    && /opt/court-gateway/bin/court-gateway --help > /dev/null

# -- run: the virtualenv on a fresh base, as an unprivileged user ------------------------------------------
FROM ${PYTHON_IMAGE} AS run
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /home/gateway --create-home --shell /usr/sbin/nologin gateway
COPY --from=build /opt/court-gateway /opt/court-gateway
ENV PATH=/opt/court-gateway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8000
# the embedded SQLite default and the demo's SMS log live in ./.data: writable only here (production uses
# PostgreSQL and the http SMS provider, and runs on a read-only root filesystem)
WORKDIR /home/gateway
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('GATEWAY_PORT', '8000') + '/healthz', timeout=4)"]
ENTRYPOINT ["court-gateway"]
CMD ["serve", "--workers", "1"]
