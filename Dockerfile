# gapse, installed exactly as the README does (make install), CPU by default.
# GPU: docker build --build-arg TORCH_SPEC=torch -t gapse . && docker run --gpus all gapse
FROM python:3.11-slim-bookworm

ARG TORCH_SPEC=torch==2.13.0
ENV PYTHONUNBUFFERED=1 GRADIO_ANALYTICS_ENABLED=False

# Debian's security updates replace exact package versions, so pins would break the build:
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make espeak-ng libsndfile1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . /app
RUN make install TORCH_SPEC="${TORCH_SPEC}"

EXPOSE 7860
# the container's port must be reachable from the host: bind all its interfaces
CMD ["make", "demo", "HOST=0.0.0.0"]
