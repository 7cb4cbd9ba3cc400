# Two commands for a newcomer: `make run` and `make test`. Both set everything up first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
APT_PACKAGES := espeak-ng sip-tester asterisk-core-sounds-en-wav asterisk-core-sounds-en sox libsndfile1 postgresql chromium kamailio rtpengine-daemon
STAMP  := $(VENV)/.installed

.PHONY: run test setup system-packages bench peers clean

setup: system-packages $(STAMP)

# Debian packages, installed when running as root and something is missing (CI, Docker, a fresh box).
system-packages:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	  else echo "missing Debian packages (run as root or install them): $$missing"; exit 1; fi; \
	fi

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

run: setup
	$(BIN)/ivr db init --demo --demo-calls
	$(BIN)/ivr prompts render
	$(BIN)/ivr prompts render --language zh
	@echo "Call it from another terminal:  .venv/bin/ivr call sip:bank@127.0.0.1:5060 --ani +15550100 --dtmf 2468# --say 'what is my balance' --say goodbye"
	@echo "or with SIPp / baresip / Linphone / Zoiper at sip:bank@127.0.0.1:5060 (demo PINs: +15550100 2468, +15550101 1357)."
	@echo "Mandarin: sip:bank-zh@127.0.0.1:5060, or .venv/bin/ivr call sip:bank-zh@127.0.0.1:5060 --language zh --ani +15550100 --dtmf 2468# --say 查余额"
	@echo "Text-mode instead: .venv/bin/ivr chat --ani +15550100   (in Mandarin: --language zh)"
	@echo "Each call is analysed seconds after it ends:  .venv/bin/ivr calls list  /  .venv/bin/ivr calls show CALL_ID"
	@$(BIN)/ivr users bootstrap
	@echo "Supervisor / QA console: http://127.0.0.1:8000/  (add users: .venv/bin/ivr users add NAME --role supervisor|qa|admin)"
	@$(BIN)/ivr analyze --follow & analyzer=$$!; $(BIN)/ivr web --host 127.0.0.1 --port 8000 & console=$$!; \
	  trap 'kill $$analyzer $$console 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/ivr serve --host 127.0.0.1 --sip-port 5060

test: setup
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q --durations=15

bench: setup
	$(BIN)/python bench/asr.py
	$(BIN)/python bench/tts.py
	$(BIN)/python bench/nlu.py
	$(BIN)/python bench/spoken_nlu.py
	$(BIN)/python bench/turn_taking.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/analytics.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/load.py

# The side-by-side with Pipecat (bench/peers.py): Pipecat in its own venv layered over .venv, never in the product's.
PEERS := .venv-peers
peers: setup
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	printf '%s\n%s\n' "$$(cd $(VENV) && pwd)/lib/python3.11/site-packages" "$$(pwd)" \
	  > $(PEERS)/lib/python3.11/site-packages/zz-main-venv.pth
	$(PEERS)/bin/pip install -q -r requirements-peers.txt
	$(PEERS)/bin/python bench/peers.py $(PEERS_ARGS)

clean:
	rm -rf $(VENV) $(PEERS) var .pytest_cache
