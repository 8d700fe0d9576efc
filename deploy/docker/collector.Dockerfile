# Pantau collector image. Build from the repository root:
#   docker build -f deploy/docker/collector.Dockerfile .
# deploy/compose.yaml builds it for you.
#
# Pinned: the base image to an exact Python and Debian release, the Python
# dependencies to deploy/constraints.txt (the versions `make test` runs and the
# .debs ship). Only the collector and the shared core go in: no agent, no demo.
FROM python:3.11.11-slim-bookworm

# A fixed uid/gid (10001), not root: files mounted into the container (the
# broker password, the HTTPS key) are made readable for exactly this id.
RUN groupadd --system --gid 10001 pantau-collector \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/pantau-collector \
        --create-home --shell /usr/sbin/nologin pantau-collector \
    && install -d -m 0755 /etc/pantau /etc/pantau/http

WORKDIR /src
COPY pyproject.toml README.md ./
COPY deploy/constraints.txt ./
COPY pantau ./pantau
COPY collector ./collector
COPY deploy/docker/healthcheck.py /usr/local/lib/pantau-healthcheck.py
RUN pip install --no-cache-dir --no-compile --constraint constraints.txt '.[collector]' \
    && rm -rf /src

USER 10001:10001
# As the systemd unit: a fixed mmap threshold keeps RSS per station down (docs/performance.md).
ENV MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /var/lib/pantau-collector
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/usr/local/lib/pantau-healthcheck.py"]
# /etc/pantau/collector.toml, fleet.toml and the secrets are mounted by compose.yaml.
ENTRYPOINT ["pantau-collector"]
CMD ["run", "--config", "/etc/pantau/collector.toml"]
