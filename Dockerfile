# Portus (Python) image: the web service, registry token realm and notification receiver.
#   docker build -t portus-py .
#   docker run -p 3000:3000 -v portus-data:/var/lib/portus portus-py
# Configure with PORTUS_* environment variables (see config.yml.example), or mount a config file
# and set PORTUS_CONFIG to its path.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/portus
COPY . .

# `portus migrate` and `portus serve` find alembic.ini, migrations/ and frontend/ next to the
# `app` package, and the installed wheel does not ship them. PYTHONPATH makes Python import `app`
# from this source tree; the wheel still provides the dependencies and the `portus` command.
ENV PYTHONPATH=/opt/portus

# All dependencies have binary wheels for Python 3.11 on amd64/arm64: no compiler needed.
RUN pip install . \
 && rm -rf build ./*.egg-info \
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

USER portus
EXPOSE 3000

# Plain urllib with proxies disabled: the slim image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:3000/api/v1/_ping', timeout=4)"]

# With SQLite (no PORTUS_DATABASE_URL) serve migrates the schema itself; with PostgreSQL run
# `portus migrate` first (docker-compose.yml does).
CMD ["portus", "serve", "--host", "0.0.0.0", "--port", "3000"]
