# depthnerf: run the pipeline or Jupyter with the same requirements as `make`.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends make git && rm -rf /var/lib/apt/lists/*
WORKDIR /depthnerf
COPY requirements.txt .
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir -r requirements.txt && touch .venv/.requirements-installed
COPY . .
ENTRYPOINT ["make"]
CMD ["pipeline"]
