# EKI in one image: `eki serve` by default (web + worker in one process), or any `eki …`
# command (compose.yaml runs the web with --no-worker and a separate `eki worker`).
#
#   docker build -t eki .
#   docker run --rm --env-file .env eki eki db upgrade      # release step, once per deploy
#   docker run -d --env-file .env -p 8000:8000 eki
#
# The release step `eki db upgrade` migrates PostgreSQL before the new version starts
# (compose.yaml: the `migrate` service; render.yaml: preDeployCommand; docs/deploy.md).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# Every dependency ships manylinux wheels (psycopg[binary], uvloop, httptools, calamine):
# no compiler in the image.
RUN python -m venv /opt/eki && /opt/eki/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/eki/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home eki
COPY --from=build /opt/eki /opt/eki
COPY deploy/healthcheck.py /opt/eki/healthcheck.py
WORKDIR /app
USER eki
EXPOSE 8000
# Liveness: GET /healthz on this container (port $PORT; for `eki worker --metrics-port N`
# the compose file passes N). Sends an allowed Host header when EKI_ALLOWED_HOSTS is set.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/opt/eki/healthcheck.py"]
# exec: eki is PID 1 and gets SIGTERM from `docker stop` (it stops cleanly on it).
CMD ["sh", "-c", "exec eki serve --host 0.0.0.0 --port \"${PORT:-8000}\""]
