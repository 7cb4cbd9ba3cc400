# One image for every role of the IVR: Kamailio, `ivr serve` endpoints, the analyzer, the console, or all of them
# at once under supervisord (`ivr cluster`, the default command). deploy/compose.yaml runs one role per container.
#
# There is no Docker engine where this project is developed and tested, so this file was never built here. It
# runs the tested native steps and nothing else: `make setup` (the Makefile's Debian packages through apt-get as
# root, a venv, `pip install -r requirements.lock`, `pip install --no-deps -e .`), which is what `make run` and
# `make test` run on a Debian bookworm host. tests/test_deploy.py checks that it still does.
#
# torch==2.13.0 must resolve to the CPU wheel (an unpinned or CUDA torch is several GB): the PyTorch CPU index
# below does that; or put the wheel in a find-links dir inside the build context and pass
# `--build-arg PIP_FIND_LINKS=/opt/ivr/wheels` (the dir name is yours).
FROM python:3.11-slim-bookworm
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_FIND_LINKS
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# make itself; everything else (Kamailio, PostgreSQL, espeak-ng, SIPp, ...) comes from the Makefile
RUN apt-get update -q && apt-get install -y -q --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ivr
# A cache layer only: the Debian packages and the locked requirements, before the sources change. `make setup`
# below is the authority; it finds these installed and finishes the same steps.
COPY Makefile requirements.lock pyproject.toml ./
RUN make system-packages && python3.11 -m venv .venv && .venv/bin/pip install -q -r requirements.lock \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make setup && rm -rf /var/lib/apt/lists/*
ENV IVR_DATA_DIR=/var/lib/ivr PATH=/opt/ivr/.venv/bin:$PATH
RUN mkdir -p /var/lib/ivr && chmod 755 /var/lib/ivr
VOLUME /var/lib/ivr
# Kamailio's SIP port, the console, the metrics (Kamailio 9100, analyzer 9101, console 9102, endpoint i 9110+i);
# the endpoints' own SIP ports (5070+i) and RTP ranges (40000 + 200 (i-1) ...) are used with host networking.
EXPOSE 5060/udp 5060/tcp 8000 9100-9102 9111-9112
# All in one container: `ivr cluster` with the embedded defaults and a local PostgreSQL in /var/lib/ivr/pg.
# Everything binds cluster.host (127.0.0.1): run it with `--network host`, and let endpoints drain on stop
# (`--stop-timeout 90`). Add `--demo` to seed the demo bank.
CMD ["ivr", "cluster"]
