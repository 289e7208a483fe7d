"""Real Chromium (Debian's package) driven by Playwright, with a fake camera and microphone.

Playwright's own browser download does not work here; it drives ``/usr/bin/chromium`` instead.
Each :func:`launch` gets a fresh profile directory (a persistent context, since Chromium's
``--user-data-dir`` cannot be passed to ``launch()``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-features=WebRtcHideLocalIpsWithMdns", "--autoplay-policy=no-user-gesture-required",
    # Screen share without a picker: capture this tab.
    "--auto-select-desktop-capture-source=Entire screen", "--auto-accept-this-tab-capture",
    "--enable-usermedia-screen-capturing",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def playwright_available() -> bool:
    try:
        import playwright.async_api  # noqa: F401
        return True
    except ImportError:
        return False


async def launch(playwright, *, viewport: dict | None = None, args: list[str] | None = None,  # noqa: ANN001, ANN201
                 locale: str = "en-US"):
    """A new Chromium with its own profile (and *args* besides the usual ones) whose language is
    *locale* (``navigator.languages``, Accept-Language; English unless asked otherwise, whatever the
    machine's); returns the persistent context."""
    profile = tempfile.mkdtemp(prefix="cc-chromium-")
    context = await playwright.chromium.launch_persistent_context(
        profile, executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS + (args or []),
        viewport=viewport or {"width": 1280, "height": 800}, permissions=["camera", "microphone"],
        ignore_default_args=["--headless"], locale=locale,
    )
    context._cc_profile = profile  # type: ignore[attr-defined]
    return context


async def close(context) -> None:  # noqa: ANN001
    profile = getattr(context, "_cc_profile", None)
    await context.close()
    if profile:
        shutil.rmtree(profile, ignore_errors=True)
