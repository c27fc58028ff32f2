# One image for every ontask component; the entry point picks the component:
#   operator | serve | train | demo | feedback ...   (see `ontask --help`)
# Multi-stage: the builder resolves wheels, the runtime is slim and runs as a non-root user.
FROM python:3.11-slim-bookworm AS builder
WORKDIR /src
COPY requirements.lock pyproject.toml README.md ./
COPY ontask ./ontask
RUN python -m venv /opt/ontask \
 && /opt/ontask/bin/pip install --no-cache-dir --no-deps -r requirements.lock \
 && /opt/ontask/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-liberation2 tesseract-ocr tesseract-ocr-eng \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --home-dir /home/ontask --create-home ontask
COPY --from=builder /opt/ontask /opt/ontask
# No HF_HUB_OFFLINE here: the default student is a Hub id that the training job fetches. An
# air-gapped cluster gives its models as s3:// or pvc://, or sets the chart's models.offline.
ENV PATH=/opt/ontask/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/home/ontask
USER 10001:10001
ENTRYPOINT ["ontask"]
CMD ["--help"]
