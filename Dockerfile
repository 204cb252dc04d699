# depthnerf: run the headless pipeline (default) or Jupyter, with the same requirements as `make`.
#   docker build -t depthnerf .
#   docker run --rm -v "$PWD/results:/depthnerf/results" depthnerf                 # make pipeline
#   docker run --rm --gpus all -v "$PWD/results:/depthnerf/results" depthnerf pipeline PROFILE=full
#   docker run --rm -p 8888:8888 depthnerf jupyter                                 # JupyterLab
# torch 2.14.1 from requirements.txt is a CUDA build: with the NVIDIA Container Toolkit and
# `--gpus all` it uses the GPU, otherwise the CPU.
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends make git libgomp1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /depthnerf
COPY requirements.txt requirements.lock ./
RUN python -m venv .venv \
 && .venv/bin/pip install --no-cache-dir -r requirements.txt -c requirements.lock \
 && touch .venv/.requirements-installed
COPY . .
RUN touch .venv/.requirements-installed
EXPOSE 8888
ENTRYPOINT ["make"]
CMD ["pipeline"]
