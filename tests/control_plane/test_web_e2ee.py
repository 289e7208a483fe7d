"""The web app's end-to-end encryption code, run in node with its WebCrypto (``tests/js/e2ee_check.mjs``):
the key from a passphrase (PBKDF2 bound to the meeting, 600,000 rounds → HKDF → AES-256-GCM, not
extractable), the frame format (the clear header bytes the edge reads, the iv and key id at the
end), and that a wrong passphrase, another meeting, an altered frame or a frame never encrypted
does not decrypt. The browsers' side is ``tests/e2e/test_e2ee.py``."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.util import require

ROOT = Path(__file__).resolve().parents[2]


def run_check() -> dict[str, Any]:
    node = shutil.which("node")
    require(node is not None, "node (apt-get install nodejs)")
    done = subprocess.run([str(node), str(ROOT / "tests" / "js" / "e2ee_check.mjs")], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_keys_frames_and_what_does_not_decrypt() -> None:
    out = run_check()
    assert out["iterations"] == 600_000
    assert out["keyIds"][0] == out["keyIds"][1]                 # the same passphrase, the same key
    assert out["extractable"] is False and out["algorithm"] == {"name": "AES-GCM", "length": 256}
    assert out["clear"] == {"key": 10, "delta": 3, "audio": 1}  # VP8 key frame, VP8 delta frame, Opus
    assert out["overhead"] == 16 + 12 + 1                       # tag, iv, key id
    for f in out["frames"]:
        assert f["sealedLength"] == f["length"] + out["overhead"], f
        assert f["headerKept"] and f["keyIdLast"] and f["opens"] and f["opensWithTheSamePassphraseAgain"], f
        assert f["restHidden"] or f["length"] <= 3, f
        for refused in ("wrongPassphrase", "wrongPassphraseSameKeyId", "otherMeeting", "headerTampered",
                        "bodyTampered", "clearFrame"):
            assert f[refused] is None, (refused, f)
    assert out["ivs"] == {"unique": 5000, "counterLast": "00001388", "prefixesDiffer": True}
