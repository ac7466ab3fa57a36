# Recovery Coach container image (see docs/operations.md).
#
#   docker build -t recovery-coach .
#   docker run --rm --env-file .env -v coach-data:/data recovery-coach
#
# Two stages: the builder installs the project (with its content/ texts inside
# the package) and its pinned dependencies into a virtual environment at
# /opt/venv; the runtime stage gets only that venv, plus a copy of content/ at
# /app/content (COACH_CONTENT_DIR) that an operator may replace with a volume to
# edit texts without rebuilding. Every dependency ships a manylinux wheel, so no
# compiler or apt package is needed in either stage.

########################################################################
# Builder: /opt/venv with the project installed from the constraints file
########################################################################
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PATH="/opt/venv/bin:${PATH}"

WORKDIR /src

# Only what `pip install .` needs (the .dockerignore allowlist keeps the context
# to these files, so a local .env with the token never reaches the build).
# content/ is package data: the wheel ships it as coach/content/shipped.
COPY pyproject.toml setup.py constraints.txt README.md ./
COPY coach/ ./coach/
COPY content/ ./content/

RUN python -m venv /opt/venv \
    && pip install --no-cache-dir -c constraints.txt .

########################################################################
# Runtime: the venv, the content texts, a non-root user
########################################################################
FROM python:3.11-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="Recovery Coach" \
      org.opencontainers.image.description="Self-hosted Telegram bot coaching a person through an acute back spasm" \
      org.opencontainers.image.licenses="MIT"

ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    COACH_CONTENT_DIR=/app/content \
    COACH_DATA_DIR=/data \
    COACH_HTTP_LISTEN=0.0.0.0:8080

# Fixed uid/gid 10001 so volume ownership is predictable across rebuilds and hosts.
# /data is created owned by it before VOLUME, so a fresh named volume inherits that.
RUN groupadd --system --gid 10001 coach \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/coach \
        --shell /usr/sbin/nologin coach \
    && mkdir -p /data \
    && chown 10001:10001 /data

COPY --from=builder /opt/venv /opt/venv
COPY content/ /app/content/

WORKDIR /app
USER 10001:10001

VOLUME ["/data"]
# 8080: /healthz and /metrics (COACH_HTTP_LISTEN); 8443: webhook listener (COACH_MODE=webhook).
EXPOSE 8080 8443

# Exits non-zero unless /healthz answers 2xx. Uses python (slim has no curl), takes the
# port from COACH_HTTP_LISTEN and ignores any HTTP(S)_PROXY set for outbound traffic.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; port = os.environ.get('COACH_HTTP_LISTEN', '0.0.0.0:8080').rpartition(':')[2] or '8080'; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:' + port + '/healthz', timeout=4)"]

# coach is PID 1 here (or a child of tini with `init: true` in compose); `docker stop`
# sends SIGTERM and the coach drains within COACH_STOP_GRACE_SECONDS.
STOPSIGNAL SIGTERM
ENTRYPOINT ["coach"]
CMD ["run"]
