# Pantau collector image (also carries pantau-agent, for `pantau-agent simulate`).
# Build from the repository root:  docker build -f deploy/docker/collector.Dockerfile .
# deploy/compose.yaml builds it for you.
FROM python:3.11-slim-bookworm

# Unprivileged, like the Debian install's pantau-collector user.
RUN useradd --system --user-group --home-dir /var/lib/pantau-collector \
        --create-home --shell /usr/sbin/nologin pantau-collector

WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY collector ./collector
COPY stack ./stack
RUN pip install --no-cache-dir . && rm -rf /src

USER pantau-collector
WORKDIR /var/lib/pantau-collector
# /etc/pantau/collector.toml and fleet.toml are mounted by compose.yaml.
ENTRYPOINT ["pantau-collector"]
CMD ["run", "--config", "/etc/pantau/collector.toml"]
