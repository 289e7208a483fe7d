"""TURN send path: what one forwarded packet costs the edge when its own ICE pair is relayed.

A real coturn (``configs/turnserver.conf`` with this machine's address and free ports) relays
between a TURN allocation made with aioice — what the edge's relayed candidate is — and a plain UDP
socket in another process (the client). Once the channel is bound, N packets of 1,200 bytes go to
the client two ways, over each TURN transport (udp, tcp):

- ``edge``: the edge's send path (``aiortc_hooks.relayed_send_path``): ChannelData written at once;
- ``aioice``: aioice's own ``TurnTransport.sendto``, one task per packet.

Packets go in bursts of 20, 2 ms apart (at most 10,000 packets/s: faster, coturn itself drops
UDP here), the loop running in between. Reported per mode: CPU µs per packet in
this process (user + sys, from the first send until every send is written; the median of the
rounds after a warm-up one) and the smallest share the client received. The edge's plain-UDP path
(``sendto`` on its own socket) is measured the same way as the baseline.

    .venv/bin/python bench/turn.py [--quick] [--out bench/results/turn.json]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aioice.turn import create_turn_endpoint  # noqa: E402

from bench.common import arguments, emit, log, machine  # noqa: E402
from edge.sfu.aiortc_hooks import relayed_send_path  # noqa: E402
from edge.turn import turn_credential  # noqa: E402
from tests.support.turn import Coturn, host_address, turnserver_available  # noqa: E402

SIZE = 1200
BURST = 20
PACE = 0.002  # seconds between bursts: up to 10,000 packets/s (≈ 100 Mb/s), what one TURN server takes here
SECRET = "bench-turn-secret"

# The client: counts datagrams on a UDP socket; prints its port, then the count for each input line.
CLIENT = r"""
import socket, sys, threading
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((sys.argv[1], 0))
count = 0
def read():
    global count
    while True:
        s.recv(4096)
        count += 1
threading.Thread(target=read, daemon=True).start()
print(s.getsockname()[1], flush=True)
for line in sys.stdin:
    print(count, flush=True)
"""


class Client:
    def __init__(self, host: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", CLIENT, host], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.addr = (host, int(self.proc.stdout.readline()))

    def count(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


async def until(check: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.005)
    return False


async def run(sendto: Any, addr: tuple[str, int], n: int, written: Any, client: Client) -> dict[str, float]:
    """Send *n* packets; CPU until *written()*, then how many the client got."""
    before_count = client.count()
    data = bytes(SIZE)
    cpu0 = time.process_time()
    for i in range(0, n, BURST):
        for _ in range(min(BURST, n - i)):
            sendto(data, addr)
        await asyncio.sleep(PACE)
    await until(written)
    cpu = time.process_time() - cpu0
    await until(lambda: client.count() - before_count >= n, timeout=3)
    return {"cpu_us_per_packet": round(cpu / n * 1e6, 2), "received": round((client.count() - before_count) / n, 4)}


async def measure(coturn: Coturn, transport: str, n: int, rounds: int) -> dict[str, Any]:
    client = Client(coturn.host)
    username, credential = turn_credential(SECRET, "bench-edge", int(time.time()) + 600)
    relay, _ = await create_turn_endpoint(asyncio.DatagramProtocol, server_addr=(coturn.host, coturn.port),
                                          username=username, password=credential, transport=transport)
    try:
        relay.sendto(b"bind", client.addr)  # aioice binds the channel first
        await until(lambda: client.count() >= 1)
        path = relayed_send_path(lambda d: d, relay, client.addr)
        assert path is not None and path.kind == f"turn/{transport}"
        tasks = relay.__dict__["_TurnTransport__send_tasks"]
        results: dict[str, list[dict[str, float]]] = {"edge": [], "aioice": []}
        for _ in range(rounds + 1):  # the first round warms up and is not counted
            results["edge"].append(await run(path.sendto, client.addr, n, lambda: path.backlog() == 0, client))
            results["aioice"].append(await run(relay.sendto, client.addr, n,
                                               lambda: not tasks and path.backlog() == 0, client))
        return {mode: {"cpu_us_per_packet": statistics.median(r["cpu_us_per_packet"] for r in rs[1:]),
                       "received": min(r["received"] for r in rs[1:])} for mode, rs in results.items()}
    finally:
        relay.close()
        await asyncio.sleep(0.1)
        client.stop()


async def measure_udp(host: str, n: int, rounds: int) -> dict[str, float]:
    client = Client(host)
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(host, 0))
    try:
        rs = [await run(udp.sendto, client.addr, n, lambda: udp.get_write_buffer_size() == 0, client)
              for _ in range(rounds + 1)][1:]  # the first round warms up
        return {"cpu_us_per_packet": statistics.median(r["cpu_us_per_packet"] for r in rs),
                "received": min(r["received"] for r in rs)}
    finally:
        udp.close()
        client.stop()


async def main() -> None:
    args = arguments(__doc__ or "", "a smoke run: fewer packets, one round").parse_args()
    if not turnserver_available():
        sys.exit("turnserver not found (apt-get install coturn)")
    n, rounds = (2000, 1) if args.quick else (20000, 5)
    result: dict[str, Any] = {"benchmark": "turn_send_path", "packets": n, "packet_bytes": SIZE, "rounds": rounds,
                              "machine": machine()}
    with tempfile.TemporaryDirectory() as tmp, Coturn(Path(tmp), SECRET) as coturn:
        result["direct_udp"] = await measure_udp(host_address(), n, rounds)
        for transport in ("udp", "tcp"):
            log(f"turn/{transport}")
            result[f"turn_{transport}"] = await measure(coturn, transport, n, rounds)
    for transport in ("udp", "tcp"):
        r = result[f"turn_{transport}"]
        r["aioice_over_edge"] = round(r["aioice"]["cpu_us_per_packet"] / r["edge"]["cpu_us_per_packet"], 2)
    result["load_average_end"] = list(os.getloadavg())
    emit(result, args.out)


if __name__ == "__main__":
    asyncio.run(main())
