# CPU image: docker build -t gru-forecast . && docker run -p 8000:8000 -v gru-store:/data gru-forecast
FROM python:3.11-slim

# Where torch comes from. The default pin takes a local CPU wheel where pip's find-links offers one
# (as on our build machines); elsewhere pass TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# for the small CPU build (PyPI's default Linux wheel is the multi-GB CUDA one).
ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX_URL=""

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN python3 -m venv /opt/venv

# Dependencies in their own layer: a code change does not reinstall torch.
COPY pyproject.toml /src/pyproject.toml
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple} "$TORCH_SPEC" \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/src/pyproject.toml','rb'))['project']['dependencies']))" \
    > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

COPY README.md /src/README.md
COPY model /src/model
COPY service /src/service
RUN pip install --no-deps /src && rm -rf /src

RUN useradd --create-home --uid 10001 app && mkdir -p /data && chown app:app /data
USER app
WORKDIR /home/app

ENV GRU_FORECAST_HOST=0.0.0.0 \
    GRU_FORECAST_PORT=8000 \
    GRU_FORECAST_STORE=/data
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=2)"]

# One worker process per CPU the container may use (at most 8), each with its own batcher and model
# copies; GRU_FORECAST_WORKERS=N (or `docker run ... gru-forecast serve --workers N`) sets the number.
CMD ["gru-forecast", "serve"]
