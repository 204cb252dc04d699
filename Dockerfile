# depthnerf: run the headless pipeline (default) or Jupyter, with the same pinned requirements as `make`.
#   docker build -t depthnerf .                                   # CPU image (the CPU torch wheel, ~1 GB)
#   docker build -t depthnerf:cuda --build-arg TORCH=cuda .        # CUDA image (PyPI's CUDA torch, ~6 GB)
#   docker run --rm -v "$PWD/results:/depthnerf/results" depthnerf                      # make pipeline
#   docker run --rm --gpus all -v "$PWD/results:/depthnerf/results" depthnerf:cuda pipeline PROFILE=full
#   docker run --rm -p 8888:8888 -v "$PWD:/depthnerf" depthnerf jupyter                # JupyterLab on this checkout
# The virtual environment lives in /opt/venv, outside the project folder, so that mounting a checkout
# over /depthnerf keeps it. Both images install requirements.txt at the versions of requirements.lock
# (the CPU one takes torch 2.14.1's CPU build from PyTorch's index first; the lock's `torch==2.14.1`
# admits it).
FROM python:3.11-slim
ARG TORCH=cpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends make git libgomp1 \
 && rm -rf /var/lib/apt/lists/*
ENV VENV=/opt/venv
WORKDIR /depthnerf
COPY requirements.txt requirements.lock ./
RUN python -m venv $VENV \
 && if [ "$TORCH" = "cpu" ]; then \
      $VENV/bin/pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1; \
    fi \
 && $VENV/bin/pip install --no-cache-dir -r requirements.txt -c requirements.lock \
 && touch $VENV/.requirements-installed
COPY . .
RUN touch $VENV/.requirements-installed
EXPOSE 8888
ENTRYPOINT ["make"]
CMD ["pipeline"]
