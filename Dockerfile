# One image for every part: the writer daemon (`porch-writer`) and the load test
# (`porch-loadtest`). compose.yaml runs it as the migrate one-off, the writers and the load test.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY messages ./messages
COPY producers ./producers
COPY writer ./writer
COPY loadtest ./loadtest
RUN pip install . \
    && useradd --system --create-home --home-dir /home/porch porch

USER porch
WORKDIR /home/porch
CMD ["porch-writer", "run"]
