"""Join-token issuing rate: the real signing path against a trivial endpoint, in one run.

Both are Litestar endpoints in one in-process app, called the same way (httpx over ASGI, one
request at a time): ``POST /issue`` derives a participant's permissions, checks them against the
account role's ceiling and signs an EdDSA join token with the control plane's key store
(``control_plane.tokens``); ``GET /trivial`` returns a constant. The ratio says what signing
costs per request. Also measured: issuing and verifying directly (no HTTP).

    .venv/bin/python bench/tokens.py [--requests N] [--rounds R] [--out bench/results/tokens.json]

Prints one JSON object (and writes it to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
from litestar import Litestar, get, post  # noqa: E402

from control_plane.tokens.keys import KeyStore  # noqa: E402
from control_plane.tokens.permissions import derive  # noqa: E402
from control_plane.tokens.service import TokenService  # noqa: E402
from nodes.claims import KeySet, verify_join_token  # noqa: E402


def build(tokens: TokenService) -> Litestar:
    @get("/trivial")
    async def trivial() -> dict:
        return {"ok": True}

    @post("/issue", status_code=200)
    async def issue() -> dict:
        perms = derive(account_role="member", meeting_role="member", publish_policy="everyone")
        issued = tokens.issue(account_role="member", sub="0123456789abcdef0123456789abcdef", name="Maria Muster",
                              meeting_id="fedcba9876543210fedcba9876543210", edge_id="edge-eu-1", role="member",
                              perms=perms, alt=["edge-eu-2"], epoch=1)
        return {"token": issued.token, "expires_at": issued.claims.exp}

    return Litestar([trivial, issue], debug=False, logging_config=None)


async def rate(client: httpx.AsyncClient, method: str, path: str, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        r = await client.request(method, path)
        if r.status_code != 200:
            raise SystemExit(f"{path}: {r.status_code} {r.text}")
    return n / (time.perf_counter() - t0)


def direct(tokens: TokenService, n: int) -> tuple[float, float]:
    perms = derive(account_role="member", meeting_role="member", publish_policy="everyone")
    t0 = time.perf_counter()
    issued = [tokens.issue(account_role="member", sub="a", name="M", meeting_id="m", edge_id="e", role="member",
                           perms=perms).token for _ in range(n)]
    issue_rate = n / (time.perf_counter() - t0)
    keys = KeySet.from_jwks(tokens.keys.jwks())
    t0 = time.perf_counter()
    for token in issued:
        verify_join_token(token, keys, edge_id="e")
    return issue_rate, n / (time.perf_counter() - t0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="", help="also write the JSON to this file")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # per-request log lines would be measured too
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        tokens = TokenService(KeyStore(Path(tmp) / "keys"), issuer="https://meet.example.org", ttl_minutes=10)
        app = build(tokens)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            await rate(client, "GET", "/trivial", 200)  # warm-up
            await rate(client, "POST", "/issue", 200)
            trivial, issuing = [], []
            for _ in range(args.rounds):  # interleaved, so drift hits both alike
                trivial.append(await rate(client, "GET", "/trivial", args.requests))
                issuing.append(await rate(client, "POST", "/issue", args.requests))
        direct_issue, direct_verify = direct(tokens, args.requests)
    t, i = statistics.median(trivial), statistics.median(issuing)
    text = json.dumps({
        "benchmark": "join tokens",
        "what": "requests/s, one at a time, in-process ASGI (median of rounds)",
        "issue_endpoint_per_s": round(i, 1),
        "trivial_endpoint_per_s": round(t, 1),
        "issue_vs_trivial_ratio": round(i / t, 3),
        "direct_issue_per_s": round(direct_issue, 1),
        "direct_verify_per_s": round(direct_verify, 1),
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cpu",
        #: Other work on the machine skews both figures; the ratio less so.
        "load_avg_1m_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
