# Portus (Python) image: the web UI, the REST API, the registry token realm and the notification
# receiver, run from the installed wheel (no source tree in the image).
#   docker build -t portus-py .
#   docker run -p 3000:3000 -v portus-data:/var/lib/portus portus-py
# Configure with PORTUS_* environment variables (see config.yml.example), or mount a config file
# and set PORTUS_CONFIG to its path.

# 1. The web UI: frontend/dist. While frontend/ has no package.json there is nothing to build and
#    the image serves the API alone.
FROM node:20-slim AS ui
WORKDIR /src/frontend
COPY frontend/ ./
RUN if [ -f package.json ]; then npm ci --no-audit --no-fund && npm run build; else mkdir -p dist; fi

# 2. The wheel, with the UI built above and the migrations inside (setup.py). No Node here: with a
#    frontend/package.json but no build, setup.py fails rather than ship a wheel without the UI.
FROM python:3.11-slim AS wheel
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
COPY --from=ui /src/frontend/dist frontend/dist
RUN pip wheel --no-deps -w /wheels .

# 3. The image: the wheel installed, nothing else of the source.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# All dependencies have binary wheels for Python 3.11 on amd64/arm64: no compiler needed. The
# check: the package finds its migrations (and, once frontend/ is built, its UI) inside itself.
COPY --from=wheel /wheels /tmp/wheels
RUN pip install /tmp/wheels/*.whl \
 && rm -rf /tmp/wheels \
 && python -c "from app.main import schema_head; assert schema_head(), 'migrations not found'" \
 && portus --help >/dev/null

# Unprivileged user owning the data directory. A new named volume mounted there copies this
# ownership, so the service can write to it.
RUN groupadd --system --gid 1000 portus \
 && useradd --system --uid 1000 --gid portus --home-dir /var/lib/portus --shell /usr/sbin/nologin portus \
 && mkdir -p /var/lib/portus \
 && chown portus:portus /var/lib/portus

# Holds the generated signing key and certificate (keys/portus.key, keys/portus.crt), the
# generated secrets and, when no database URL is set, the SQLite database.
ENV PORTUS_DATA_DIR=/var/lib/portus
VOLUME ["/var/lib/portus"]

# An empty working directory: ./config.yml (the default PORTUS_CONFIG) is absent unless mounted.
WORKDIR /opt/portus
USER portus
EXPOSE 3000

# Plain urllib with proxies disabled: the slim image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:3000/api/v1/_ping', timeout=4)"]

# With SQLite (no PORTUS_DATABASE_URL) serve migrates the schema itself; with PostgreSQL run
# `portus migrate` first (docker-compose.yml does).
CMD ["portus", "serve", "--host", "0.0.0.0", "--port", "3000"]
