"""axe-core (npm, ``tests/js``) in a page: the accessibility rules a page breaks.

The script is evaluated through the browser's debugging protocol, which the page's content
security policy does not govern, so the page is checked exactly as it is served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.util import require

AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"
#: What a page may not have (axe's impacts: minor, moderate, serious, critical).
BLOCKING = ("serious", "critical")


async def violations(page, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:  # noqa: ANN001
    """The rules *page* breaks now with one of *impacts*: id, impact, help and the first elements."""
    require(AXE.exists(), "axe-core (npm ci in tests/js)")
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE.read_text() + "\n;undefined")
    result = await page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "where": [n["target"] for n in v["nodes"][:4]], "html": [n["html"][:160] for n in v["nodes"][:2]]}
            for v in result["violations"] if v["impact"] in impacts]
