# autobook: one image for every service (worker, intake, migrate, sandbox).
# Stage 1 builds a wheel; stage 2 installs it on a slim base and runs as a non-root user.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AUTOBOOK_DATA_DIR=/home/autobook/.autobook \
    AUTOBOOK_LOG_FORMAT=json \
    AUTOBOOK_METRICS_PORT=9808
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin autobook
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER autobook
WORKDIR /home/autobook
EXPOSE 9808
# A worker is healthy while it serves its metrics (the server runs in the worker's main
# process). Services that serve something else (intake, sandbox) override this in compose.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/metrics' % os.environ['AUTOBOOK_METRICS_PORT'], timeout=4)"]
CMD ["autobook", "worker"]
