"""The SDK's flows against the sandbox under the UNFAVOURABLE reading of every point the
documents leave open (SandboxOptions), not only the kind one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from nemovideo import InsufficientCreditsError, NemoClient, TextEvent
from nemovideo.sandbox import Sandbox

ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets"

SandboxFactory = Callable[..., Awaitable[Sandbox]]
ClientFactory = Callable[..., NemoClient]


def image() -> Path:
    return sorted(ASSETS.glob("*.jpg"))[0]


@pytest.mark.parametrize(
    "reading",
    [
        {"output_size": "approximate"},
        {"output_size": "absent"},
        {"heartbeat_style": "named", "heartbeat_interval": 5.0},
        {"video_analyses": "object"},
        {"render_id_reuse": "refuse"},
        {"event_ids": "own"},
        {"repeat_token": "refuse"},
        {"repeat_token": "new_user"},
    ],
    ids=lambda reading: "-".join(f"{k}={v}" for k, v in reading.items()),
)
async def test_animate_under_each_unfavourable_reading(
    nemo_sandbox_factory: SandboxFactory,
    nemo_client_factory: ClientFactory,
    tmp_path: Path,
    reading: dict[str, Any],
) -> None:
    sandbox = await nemo_sandbox_factory(**reading)
    client = nemo_client_factory(base_url=sandbox.url)
    video = await client.animate(image(), "gentle waves", output=tmp_path / "a.mp4")
    assert video.path is not None and video.size == video.path.stat().st_size > 1000
    state = await client.state.get(video.session_id)
    assert state.video_analyses  # whatever its shape, it is kept
    await client.close()
    # A second process: same client id file, a new client. It must not ask for a second token
    # (refused, or a new anonymous user who cannot see the first one's sessions).
    later = nemo_client_factory(base_url=sandbox.url)
    again = await later.state.get(video.session_id)
    assert again.draft.is_exportable
    token_requests = [r for r in sandbox.requests if r.route == "token"]
    assert len(token_requests) == 1


async def test_video_analyses_as_an_object_are_kept(
    nemo_sandbox_factory: SandboxFactory, nemo_client_factory: ClientFactory
) -> None:
    sandbox = await nemo_sandbox_factory(video_analyses="object")
    client = nemo_client_factory(base_url=sandbox.url)
    session = await client.session.create()
    await client.upload.files(session.session_id, image())
    await client.chat.send(session.session_id, "animate this image into a 2-second clip")
    analyses = (await client.state.get(session.session_id)).video_analyses
    assert isinstance(analyses, dict) and len(analyses) == 1


async def test_a_final_with_its_own_id_is_not_shown_twice(
    nemo_sandbox_factory: SandboxFactory, nemo_client_factory: ClientFactory
) -> None:
    sandbox = await nemo_sandbox_factory(event_ids="own", silent_edit_ratio=0.0)
    client = nemo_client_factory(base_url=sandbox.url)
    session = await client.session.create()
    finals: list[str] = []
    reply = await client.chat.send(
        session.session_id,
        "animate into a 3-second clip",
        on_event=lambda e: (
            finals.append(e.text) if isinstance(e, TextEvent) and not e.partial else None
        ),
    )
    assert finals and reply.text == "\n\n".join(f.strip() for f in finals)


async def test_a_taken_render_id_gets_a_new_one(
    nemo_sandbox_factory: SandboxFactory, nemo_client_factory: ClientFactory
) -> None:
    sandbox = await nemo_sandbox_factory(render_id_reuse="refuse")
    client = nemo_client_factory(base_url=sandbox.url)
    session = await client.session.create()
    await client.chat.send(session.session_id, "animate into a 2-second clip")
    draft = (await client.state.get(session.session_id)).draft
    first = await client.render.start(session.session_id, draft, job_id="render_1_same")
    second = await client.render.start(session.session_id, draft, job_id="render_1_same")
    assert first.id == "render_1_same" and second.id != first.id
    assert sandbox.render_job(second.id).session_id == session.session_id


async def test_out_of_credits_names_the_register_link(
    nemo_sandbox_factory: SandboxFactory, nemo_client_factory: ClientFactory, tmp_path: Path
) -> None:
    sandbox = await nemo_sandbox_factory()
    client = nemo_client_factory(base_url=sandbox.url)
    await client.credits.get()
    token = client._transport.credentials.current
    assert token is not None
    sandbox.set_credits(token, 0)
    user_id = sandbox.core.tokens[token].account.user_id
    with pytest.raises(InsufficientCreditsError) as info:
        await client.animate(image(), output=tmp_path / "never.mp4")
    assert user_id.startswith("anon_")
    assert info.value.link == f"https://nemovideo.com/register?bind={user_id}"
    assert info.value.link in str(info.value)
