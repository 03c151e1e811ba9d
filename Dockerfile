# The commune IOC application image: one image, every `ioc` subcommand.
#   docker build -t commune-ioc .   (docker-compose.yml builds it for every app service)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies exactly as locked (versions and hashes: requirements.lock, made by pip-compile
# from pyproject.toml; docs/deploy.md), then the distribution itself without resolving again.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# What pyproject.toml needs to build the distribution: its metadata, the readme, and every
# package of [tool.setuptools.packages.find] (with their SQL/YAML/JSON package data).
COPY pyproject.toml README.md ./
COPY ioc/ ioc/
COPY collector/ collector/
COPY devices/ devices/
COPY ingest/ ingest/
COPY alerts/ alerts/
COPY api/ api/
COPY simulators/ simulators/
COPY storage/ storage/
COPY demo/ demo/
RUN pip install --no-deps . \
    && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin ioc

# Scenario files for `ioc simulate --scenario` / `ioc drill`.
COPY scenarios/ scenarios/

USER ioc
EXPOSE 8000
ENTRYPOINT ["ioc"]
CMD ["--help"]
