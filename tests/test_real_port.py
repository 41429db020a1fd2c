"""The SDK against the production server stack on a real loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest

from parley.client import ParleyClient, ParleyError
from parley.config import Settings
from parley.server.runner import serving


async def test_the_sdk_drives_a_real_server(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, api_keys=("pk_real_port_key",))

    async with serving(settings) as base_url, ParleyClient(base_url, "pk_real_port_key") as c:
        agent = await c.create_agent(name="n", voice_id="default", system_prompt="p")
        session = await c.create_session(agent["id"], metadata={"x": 1})
        prepared = await c.prepare_voice(agent_id=agent["id"])
        with pytest.raises(ParleyError) as refused:
            await c.get_agent("agt_missing")
        messages = await c.messages(session["session_id"])

    port = base_url.rsplit(":", 1)[1]
    assert session["websocket_url"].startswith(f"ws://127.0.0.1:{port}/ws/voice?token=st_")
    assert prepared["url"].startswith(f"ws://127.0.0.1:{port}/ws/voice?token=st_")
    assert (refused.value.status, refused.value.code) == (404, "not_found")
    assert messages == {"data": [], "total": 0, "limit": 1000, "offset": 0}
