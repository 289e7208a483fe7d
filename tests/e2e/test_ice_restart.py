"""The web app restarts ICE in place (what it does when a peer connection's path stays
`disconnected` after a network change): a publish offer with new ICE credentials, then the edge's
subscribe offer with new ones — the same peer connections, the same socket, media both ways."""

from __future__ import annotations

import pytest

from tests.e2e.ui import audio_keeps_coming, frames_keep_coming, two_in_a_meeting, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

CREDENTIALS = """() => {
    const ufrag = (d) => /a=ice-ufrag:(\\S+)/.exec(d?.sdp || "")?.[1] || "";
    const cc = window.__cc;
    return [cc.publishPc, cc.subscribePc].map((pc) => [ufrag(pc.localDescription), ufrag(pc.remoteDescription)]);
}"""


async def test_the_room_restarts_ice_without_new_connections(stack, browsers) -> None:  # noqa: ANN001
    (ann, ben), (ann_id, ben_id), _ = await two_in_a_meeting(stack, browsers, ("nia", "Nia Host"),
                                                             ("ole", "Ole Member"), "Roaming")
    await frames_keep_coming(ben, ann_id)
    before = await ann.evaluate(CREDENTIALS)
    await ann.evaluate("window.__pcs = [window.__cc.publishPc, window.__cc.subscribePc]; window.__cc.restartIce()")

    async def restarted() -> bool:
        now = await ann.evaluate(CREDENTIALS)
        return all(n[0] != b[0] and n[1] != b[1] for n, b in zip(now, before))
    await wait_for(restarted, timeout=20, what="new ICE credentials on both PCs, both sides")
    assert await ann.evaluate("window.__cc.iceRestarts") == 1
    assert await ann.evaluate("window.__cc.publishPc === window.__pcs[0] && window.__cc.subscribePc === window.__pcs[1]")
    await frames_keep_coming(ben, ann_id)
    await frames_keep_coming(ann, ben_id)
    await audio_keeps_coming(ben, ann_id)
    conn = await ann.evaluate("window.__cc.connection")
    assert conn["reconnects"] == 0 and conn["state"] == "connected", conn     # no resume, no media restart
    assert await ann.evaluate("[window.__cc.publishPc, window.__cc.subscribePc].map((pc) => pc.connectionState)") == \
        ["connected", "connected"]
