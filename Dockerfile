# The consentgate worker image; `docker compose up --build` builds it (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
RUN pip install . \
    && useradd --system --uid 10001 --create-home --home-dir /var/lib/consentgate consentgate

# Not root. The data directory holds the worker's RocksDB tables; compose mounts a volume there.
USER consentgate
WORKDIR /var/lib/consentgate
ENV CONSENTGATE_DATA_DIR=/var/lib/consentgate
EXPOSE 6066
CMD ["consentgate", "worker"]
