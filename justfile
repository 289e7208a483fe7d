# Recipes for Curious Connect. Run them through ./dev (it sets up .venv first), e.g. `./dev test`.
set shell := ["bash", "-euo", "pipefail", "-c"]

py := ".venv/bin/python"

# list the recipes
default:
    @just --list

# run the whole stack: nats-server, control plane on :8080, one edge on :8081
up *ARGS:
    {{py}} scripts/stack.py {{ARGS}}

# run the whole test suite against real components
test *ARGS:
    {{py}} -m pytest {{ARGS}}

# the tests that run a minute or more of real time (marked `long`; ./dev test leaves them out)
test-long *ARGS:
    {{py}} -m pytest -m long {{ARGS}}

# the checks CI runs before the tests: import direction, ruff, mypy (strict on nodes/ and edge/sfu/)
lint:
    .venv/bin/lint-imports
    .venv/bin/ruff check .
    .venv/bin/mypy

# re-resolve pyproject.toml's dependencies into requirements.lock (a clean temporary venv, from PyPI)
lock:
    ./dev lock

# join-token issues per second against a trivial endpoint (JSON; `--out bench/results/tokens.json` keeps a copy)
bench-tokens *ARGS:
    {{py}} bench/tokens.py {{ARGS}}

# benchmark the edge's forwarding against aiortc's MediaRelay (JSON; --quick for a smoke run)
bench-sfu *ARGS:
    {{py}} bench/sfu.py {{ARGS}}

# the edge's send path when its own ICE pair is relayed by coturn, against aioice's own send (JSON; --quick for a smoke run)
bench-turn *ARGS:
    {{py}} bench/turn.py {{ARGS}}

# a subscriber on a 300 kb/s link (netns + tc tbf; root) with bandwidth adaptation on and off (JSON; --quick for a smoke run)
bench-network *ARGS:
    {{py}} bench/network.py {{ARGS}}

# the browser tests: real Chromium against the whole stack (web app, edge, nats-server)
e2e *ARGS:
    {{py}} -m pytest -m browser tests/e2e {{ARGS}}

# cascading: bytes over the link between two edges and their fan-out as subscribers grow (JSON; --quick for a smoke run)
bench-cascade *ARGS:
    {{py}} bench/cascade.py {{ARGS}}

# soak: 20 participants for 30 minutes with churn; every process's memory and open files (bench/results/soak.json)
soak *ARGS:
    {{py}} -m pytest -m long -s tests/system/test_soak.py {{ARGS}}

# the appliance install: the product into a prefix (default /opt/curious-connect) with its venv, /etc/curious-connect from the examples, the systemd units; enables nothing unless --enable UNIT
install *ARGS:
    {{py}} scripts/install.py {{ARGS}}

# edge → control plane event delivery over NATS on loopback (JSON; --quick for a smoke run; --out bench/results/events.json)
bench-events *ARGS:
    {{py}} bench/events.py {{ARGS}}
