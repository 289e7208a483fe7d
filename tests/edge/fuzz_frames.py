"""Seeded signaling frames for the fuzz test: mostly malformed, some well-formed, each knowing the
answer it must get — the ``id`` the edge echoes as ``re``, or (``re is None``) exactly one
``error`` without ``re``.

Message types and their fields come from ``edge.protocol``'s client union, so types added later are
fuzzed too. Frames that would end the stream (a valid ``leave``, a ``join`` with a token that is
not one) are never made: the fuzz test opens separate sockets for what closes a socket.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from typing import Any

import msgspec

from edge import protocol as m

MESSAGE_TYPES: dict[str, type] = {cls.__struct_config__.tag: cls for cls in m.ClientMessage.__args__}
SOURCES = ("microphone", "camera", "screen")
CANDIDATE = "candidate:842163049 1 udp 1677729535 192.0.2.7 46154 typ srflx raddr 10.0.0.1 rport 46154 generation 0"
LIMIT = 65536               # signaling.max_message_bytes
DEEP_LIMIT = 60000          # deep frames mostly stay under it


@dataclass
class Frame:
    data: str | bytes
    #: The ``id`` the edge must answer with; None: the frame gets exactly one ``error`` without ``re``.
    re: m.RequestId = None
    #: A text frame (bytes that are not UTF-8 go out as a text frame too).
    text: bool = True
    kind: str = ""

    def describe(self) -> str:
        shown = self.data[:160]
        return f"{self.kind} re={self.re!r} {'text' if self.text else 'binary'} {len(self.data)}B {shown!r}"


def wrong_values(rng: random.Random) -> list[Any]:
    return [0, -1, 1.5, 2 ** 53, True, False, None, "", "x" * rng.randint(1, 40), [], [1, "a", None], {},
            {"a": {"b": [1]}}, [[[[[]]]]], "\u00e9\u4e2d\U0001F600", {"type": "ping"}, -1e308]


def wrong_ids() -> list[Any]:
    """``id`` values the decoder refuses (``null`` is no id at all: the request is carried out)."""
    return [True, False, 1.5, -1e308, [], [1], {}, {"a": 1}]


def id_is_answerable(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 63)


class Frames:
    """One socket's frames. *joined*: the socket has joined (so media requests reach the room)."""

    def __init__(self, rng: random.Random, *, prefix: str, offer: str, answer: str, others: list[str],
                 joined: bool) -> None:
        self.rng, self.prefix, self.joined = rng, prefix, joined
        self.offer_lines, self.answer_lines = offer.split("\r\n"), answer.split("\r\n")
        self.others = others
        self.n = 0

    def _id(self) -> m.RequestId:
        self.n += 1
        return f"{self.prefix}{self.n}" if self.rng.random() < 0.6 else self.n * 7 + (1 << 20)

    # -- well-formed messages of every type -----------------------------------------------------
    def valid(self, type_: str) -> dict[str, Any]:
        rng = self.rng
        body: dict[str, Any] = {"type": type_, "id": self._id()}
        match type_:
            case "join":
                body.update(rng.choice([{"token": "", "meeting_id": "fuzz"},
                                        {"resume_token": self.text(1, 40), "meeting_id": "fuzz", "last_seq": 3}]))
            case "offer":
                body.update(pc="publish", sdp=self.sdp(self.offer_lines), sources=self.sources())
            case "answer":
                body.update(pc="subscribe", sdp=self.sdp(self.answer_lines))
            case "ice":
                body.update(pc=rng.choice(["publish", "subscribe"]), candidate=self.candidate())
            case "mute":
                body.update(source=rng.choice(SOURCES), muted=rng.random() < 0.5,
                            participant_id=rng.choice(["", "", "nobody", *self.others]))
            case "chat":
                body.update(text=self.text(0, 200), to=rng.choice(["", "", "", "nobody", *self.others]))
            case "ping":
                body.update(t=rng.uniform(-1e9, 1e9))
            case _:
                for field in msgspec.structs.fields(MESSAGE_TYPES[type_]):
                    if field.encode_name not in ("type", "id"):
                        body[field.encode_name] = rng.choice(["nobody", *self.others, self.text(0, 30)])
        return body

    def text(self, lo: int, hi: int) -> str:
        alphabet = string.printable + "\u00e9\u4e2d\U0001F600\u202e\x00\x7f"
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(lo, hi)))

    def sources(self) -> Any:
        rng = self.rng
        return rng.choice([{"0": "microphone", "1": "camera"}, {"0": "microphone"}, {"1": "camera"}, {},
                           {"0": "camera", "1": "microphone"}, {"0": "screen", "1": "screen"}, {"7": "camera"}])

    def sdp(self, lines: list[str]) -> str:
        rng = self.rng
        if rng.random() < 0.15:
            return rng.choice(["", "v=0", "v=1\r\n", self.text(0, 300), "v=0\r\n" + self.text(0, 300),
                               "\r\n".join(lines[: rng.randrange(len(lines))])])
        ls = list(lines)
        for _ in range(rng.randint(1, 5)):
            if not ls:
                ls = ["v=0"]
            j = rng.randrange(len(ls))
            op = rng.random()
            if op < 0.25:
                del ls[j]
            elif op < 0.55:
                k = rng.randrange(len(ls[j]) + 1)
                ls[j] = ls[j][:k] + self.text(0, 3) + ls[j][k + rng.randint(0, 3):]
            elif op < 0.7:
                ls[j] = ls[j][: rng.randrange(len(ls[j]) + 1)]
            elif op < 0.85:
                ls.insert(j, rng.choice(ls))
            else:
                ls[j] = "".join(str(rng.choice([0, 1, -1, 255, 99999999999, "x"])) if c.isdigit() and
                                rng.random() < 0.3 else c for c in ls[j])
        return "\r\n".join(ls)

    def candidate(self) -> Any:
        rng = self.rng
        if rng.random() < 0.1:
            return None
        text = rng.choice([CANDIDATE, "", self.text(0, 80), "a=" + CANDIDATE, CANDIDATE.replace("udp", "sctp"),
                           CANDIDATE.replace("192.0.2.7", "999.1.1.1"), CANDIDATE.replace("46154", "-3"),
                           CANDIDATE.replace("srflx", "bogus"), " ".join(CANDIDATE.split()[: rng.randint(0, 9)])])
        return {"candidate": text, "sdpMid": rng.choice(["0", "1", "9", None, ""]),
                "sdpMLineIndex": rng.choice([0, 1, 7, None, -1, 2 ** 40]),
                "usernameFragment": rng.choice([None, "abcd", ""])}

    # -- frames ---------------------------------------------------------------------------------
    def types(self) -> list[str]:
        return list(MESSAGE_TYPES)

    def safe(self, body: dict[str, Any]) -> dict[str, Any]:
        """Never a valid ``leave`` (it closes the socket) nor a ``join`` with a token that is not one
        (refused with close 4001): both are tried on sockets of their own."""
        if body.get("type") == "leave" and (id_is_answerable(body.get("id")) or body.get("id") is None):
            body["id"] = [body.get("id")]
        if body.get("type") == "join" and isinstance(body.get("token"), str) and body["token"]:
            body["token"] = 12345
        return body

    def obj(self, body: dict[str, Any], kind: str, binary: bool = False) -> Frame:
        body = self.safe(body)
        data = json.dumps(body)
        re = body.get("id") if id_is_answerable(body.get("id")) and len(data.encode()) <= LIMIT else None
        return Frame(data.encode() if binary else data, re=re, text=not binary, kind=kind)

    def next(self) -> Frame:
        rng = self.rng
        r = rng.random()
        if r < 0.30:
            return self.wrong_type()
        if r < 0.42:
            return self.obj(self.valid(rng.choice(self.types())), "valid")
        if r < 0.54 and self.joined:
            type_ = rng.choice(["offer", "offer", "answer"])
            return self.obj(self.valid(type_), f"sdp {type_}")
        if r < 0.60:
            return self.obj(self.valid("ice"), "ice")
        if r < 0.65:
            body = self.valid(rng.choice(self.types()))
            for _ in range(rng.randint(1, 4)):
                body["x-" + self.text(1, 10)] = rng.choice(wrong_values(rng))
            return self.obj(body, "unknown fields")
        if r < 0.71:
            return self.unknown_type()
        if r < 0.77:
            return self.deep()
        if r < 0.85:
            return self.not_json()
        if r < 0.90:
            return self.not_utf8()
        if r < 0.997:
            body = self.valid(rng.choice(["ping", "chat", "mute", "ice"]))
            if rng.random() < 0.5:
                return self.obj(body, "binary json", binary=True)
            return Frame(bytes(rng.randrange(256) for _ in range(rng.randint(0, 64))), text=False, kind="binary noise")
        return self.huge()

    def wrong_type(self) -> Frame:
        rng = self.rng
        type_ = rng.choice(self.types())
        body = self.valid(type_)
        names = [f.encode_name for f in msgspec.structs.fields(MESSAGE_TYPES[type_])]
        for name in rng.sample(names, rng.randint(1, min(2, len(names)))):
            body[name] = rng.choice(wrong_ids() if name == "id" else wrong_values(rng))
        if rng.random() < 0.1 and len(body) > 2:
            del body[rng.choice([k for k in body if k not in ("type", "id")])]
        return self.obj(body, f"wrong type {type_}")

    def unknown_type(self) -> Frame:
        rng = self.rng
        body = self.valid("ping")
        choice = rng.random()
        if choice < 0.6:
            name = rng.choice(["teleport", "Join", "PING", "offer ", "", "leave\x00", self.text(1, 12)])
            body["type"] = name if name not in MESSAGE_TYPES else name + "?"
        elif choice < 0.8:
            body["type"] = rng.choice(wrong_values(rng))
        else:
            del body["type"]
        return self.obj(body, "unknown type")

    def deep(self) -> Frame:
        """Nesting deeper than any decoder follows (over 1,100 levels), in the frame or in a field."""
        rng = self.rng
        open_, close = rng.choice([("[", "]"), ('{"a":', "}"), ("[{\"b\":", "}]")])
        depth = rng.randint(1100, DEEP_LIMIT // (len(open_) + len(close)))
        nested = open_ * depth + "1" + close * depth if open_ != "[" else "[" * depth + "]" * depth
        where = rng.random()
        if where < 0.2:                          # the whole frame
            return Frame(nested, kind="deep frame")
        body = self.valid(rng.choice(self.types()))
        body = self.safe(body)
        rid = body.get("id")
        field = rng.choice(["extra", "sdp", "sources", "candidate", "text", "t", "token", "id"])
        if field == "id" and body["type"] != "leave":
            body.pop("id", None)
            rid = None
        head = json.dumps({k: v for k, v in body.items() if k != field})[:-1]
        data = head + (", " if head != "{" else "") + json.dumps(field) + ": " + nested + "}"
        return Frame(data, re=rid if id_is_answerable(rid) and len(data) <= LIMIT else None, kind=f"deep {field}")

    def not_json(self) -> Frame:
        rng = self.rng
        valid = json.dumps(self.safe(self.valid("ping")))
        data = rng.choice([
            "", " ", "{", "}", "[]", "null", "42", '"text"', "true", "[1, 2]", '{"type": "ping"} trailing',
            valid[: rng.randrange(1, len(valid))], "{'type': 'ping'}", '{"type": "ping", "t": NaN}',
            '{"type": "ping", "t": Infinity}', "\x00" * rng.randint(1, 8), self.text(1, 200),
            '{"type": "chat", "text": "\\ud800"}', '{"type": "ping", "id": 5, "x": "\\udc00"}',
            '{"type": "ping", "id": 5, "x": "\\uZZZZ"}', '{"type": "ping", "id": 5,}', "\ufeff" + valid,
        ])
        return Frame(data, kind="not json")

    def not_utf8(self) -> Frame:
        rng = self.rng
        valid = json.dumps(self.safe(self.valid(rng.choice(["ping", "chat"])))).encode()
        bad = rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82"])
        k = rng.randrange(len(valid) + 1)
        return Frame(valid[:k] + bad + valid[k:], text=True, kind="not utf-8")

    def huge(self) -> Frame:
        rng = self.rng
        size = rng.choice([65537, 65537 + rng.randrange(1 << 20), (1 << 20) + rng.randrange(1 << 20)])
        body = json.dumps({"type": "chat", "id": self._id(), "text": ""})
        return Frame(body[:-2] + "x" * (size - len(body)) + '"}', kind="huge")
