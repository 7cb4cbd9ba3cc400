# Same steps as the Makefile: Debian packages, a venv with the locked requirements, the project installed.
# torch==2.13.0 should resolve to the CPU wheel: put it in a find-links dir (PIP_FIND_LINKS) when building.
FROM python:3.11-slim-bookworm
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        make espeak-ng sip-tester asterisk-core-sounds-en-wav asterisk-core-sounds-en sox libsndfile1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ivr
COPY requirements.lock pyproject.toml ./
RUN python -m venv .venv && .venv/bin/pip install -q --upgrade pip \
    && .venv/bin/pip install -q -r requirements.lock
COPY . .
RUN .venv/bin/pip install -q --no-deps -e . && touch .venv/.installed
ENV IVR_DATA_DIR=/var/lib/ivr PATH=/opt/ivr/.venv/bin:$PATH
VOLUME /var/lib/ivr
EXPOSE 5060/udp 5060/tcp 8000
CMD ["make", "run"]
