"""The rendered video shows what was uploaded and asked: the image (on every PyAV release, never
a grey stand-in), the title's words, the requested resolution, and images uploaded by URL."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import av
import numpy as np
import pytest

from nemovideo.sandbox import Sandbox, media
from nemovideo.sandbox import api as api_module
from nemovideo.sandbox.encode import RenderPlan, Visual, plan_from_draft, render_mp4
from tests.sandbox.conftest import RED
from tests.sandbox.support import Api

SDK_PROMPT = "Animate this image into a {s}-second video clip: {words}"


async def _generate(api: Api, upload: tuple[str, bytes] | None, message: str) -> str:
    sid = await api.new_session()
    if upload is not None:
        _, body = await api.upload(sid, upload)
        assert body["code"] == 0, body
    await api.chat(sid, message)
    return sid


async def _draft(api: Api, sid: str) -> dict[str, Any]:
    draft: dict[str, Any] = (await api.state(sid))["state"]["draft"]
    return draft


async def _render(api: Api, sid: str, job_id: str, draft: Any = None) -> dict[str, Any]:
    await api.render(sid, job_id, draft if draft is not None else await _draft(api, sid))
    return await api.wait_render(job_id)


async def _frames(api: Api, done: dict[str, Any]) -> list[Any]:
    assert done["status"] == "completed", done
    async with api.http.get(done["output"]["url"]) as resp:
        data = await resp.read()
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _mean(frame: Any) -> Any:
    return frame.reshape(-1, 3).mean(axis=0)


def _assert_red(frame: Any) -> None:
    """Mean colour of the picture above the title bar: the upload's red, not a grey."""
    top = frame[: int(frame.shape[0] * 0.75)]
    mean = _mean(top)
    assert np.abs(mean - np.asarray(RED)).max() < 25, mean


# ---- A: decoding on every PyAV release, and failing loudly when it cannot ---------------------
@pytest.fixture
def av_without_metadata_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """``av.open`` as PyAV 19 has it: ``metadata_errors`` is an unexpected keyword."""
    real_open = av.open

    def open_like_av19(*args: Any, **kwargs: Any) -> Any:
        if "metadata_errors" in kwargs:
            raise TypeError("open() got an unexpected keyword argument 'metadata_errors'")
        return real_open(*args, **kwargs)

    monkeypatch.setattr(av, "open", open_like_av19)
    monkeypatch.setattr(media, "_takes_metadata_errors", None, raising=False)
    monkeypatch.setattr(media, "_PROBES", type(media._PROBES)())  # probe again, patched


async def test_an_av19_style_open_still_renders_the_uploaded_image(
    av_without_metadata_errors: None, api: Api, red_png: bytes
) -> None:
    sid = await _generate(api, ("red.png", red_png), "animate this image into a 1-second clip")
    frames = await _frames(api, await _render(api, sid, "render_av19"))
    _assert_red(frames[0])  # before the fix: the mean colour was the neutral grey frame's
    _assert_red(frames[-1])
    state = (await api.state(sid))["state"]
    assert (state["video_infos"][0]["width"], state["video_infos"][0]["height"]) == (64, 48)


def test_decode_still_raises_instead_of_returning_nothing() -> None:
    with pytest.raises(media.UndecodableMediaError):
        media.decode_still(b"\x89PNG\r\n\x1a\n" + bytes(100))


async def test_undecodable_upload_fails_the_render_and_names_the_file(api: Api) -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200)
    sid = await _generate(api, ("photo.heic", heic), "animate this photo, 1 second")
    done = await _render(api, sid, "render_heic")
    assert done["status"] == "failed" and "output" not in done
    assert "photo.heic" in done["error"] and "decode" in done["error"]


async def test_a_source_that_is_not_stored_here_fails_the_render(api: Api, red_png: bytes) -> None:
    sid = await _generate(api, ("red.png", red_png), "animate this image into a 1-second clip")
    draft = await _draft(api, sid)
    draft["t"][0]["sg"][0]["src"] = "https://elsewhere.invalid/photo.jpg"
    done = await _render(api, sid, "render_elsewhere", draft)
    assert done["status"] == "failed" and "elsewhere.invalid/photo.jpg" in done["error"]


async def test_a_generation_without_any_upload_still_renders(api: Api) -> None:
    sid = await _generate(api, None, "Generate a 1 second video of a calm sea")
    assert (await _render(api, sid, "render_words"))["status"] == "completed"


# ---- B: the title's words, from the prompt, kept by edits ------------------------------------
def _transitions(frame: Any) -> int:
    """Sharp horizontal light changes inside the title bar's text area (glyph edges)."""
    height, width = frame.shape[0], frame.shape[1]
    top, bottom = int(height * 0.78), int(height * 0.9)
    accent = max(1, (bottom - top) // 8)
    band = frame[top + accent + 1 : bottom - 1, int(width * 0.1) : int(width * 0.9)]
    light = band.astype(np.float32).mean(axis=2)
    return int((np.abs(np.diff(light, axis=1)) > 48).sum())


@pytest.mark.nemo_sandbox(render_height=288, render_fps=4)
async def test_the_title_text_is_drawn_into_the_frames(api: Api, red_png: bytes) -> None:
    message = 'animate this, 2 seconds, titled "Hello World"'
    sid = await _generate(api, ("red.png", red_png), message)
    draft = await _draft(api, sid)
    assert draft["t"][2]["sg"][0]["m"]["text"] == "Hello World"
    with_text = await _frames(api, await _render(api, sid, "render_text"))
    draft["t"][2]["sg"][0]["m"]["text"] = ""  # the same bar, no words
    empty_bar = await _frames(api, await _render(api, sid, "render_bar", draft))
    written, empty = _transitions(with_text[4]), _transitions(empty_bar[4])  # at 1 s: opaque
    assert written > 40 and written > 8 * max(empty, 1), (written, empty)
    _assert_red(with_text[4])  # the picture above the bar is the image


def test_the_title_is_drawn_in_its_colour(tmp_path: Any) -> None:
    from nemovideo.sandbox.encode import Title

    black = np.zeros((72, 128, 3), np.uint8)
    path = tmp_path / "black.png"
    path.write_bytes(media.encode_image(black, "png"))
    plan = RenderPlan(
        width=256,
        height=144,
        fps=4,
        duration_ms=1000,
        visuals=(Visual(0, 1000, path, src="https://cdn/black.png"),),
        titles=(Title(0, 1000, "RED TITLE", (255, 0, 0)),),
    )
    render_mp4(plan, tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as container:
        frame = list(container.decode(video=0))[-1].to_ndarray(format="rgb24")
    band = frame[int(144 * 0.8) : int(144 * 0.9), 26:230].reshape(-1, 3).astype(int)
    lit = band[band.max(axis=1) > 120]  # the glyphs' pixels
    assert len(lit) > 30 and lit[:, 0].mean() > 2 * lit[:, 1:].mean(), lit.mean(axis=0)


@pytest.mark.parametrize(
    ("message", "title"),
    [
        (SDK_PROMPT.format(s=1, words="waves roll in (480p)"), "Waves Roll In"),
        ("make a 1 second video of my dog running on the beach at dawn", "My Dog Running"),
        (SDK_PROMPT.format(s=1, words="a sunset over the sea, slow clouds"), "Sunset over the Sea"),
        ("Generate a 1 second video of a calm sea", "Calm Sea"),
        ("turn this image into a 1-second animated video clip", "Red"),  # the file's name
        ("animate this into a 1-second clip titled 'Sea Breeze'", "Sea Breeze"),
    ],
)
async def test_the_title_comes_from_the_request(
    api: Api, red_png: bytes, message: str, title: str
) -> None:
    sid = await _generate(api, ("red.png", red_png), message)
    texts = [s["m"]["text"] for t in (await _draft(api, sid))["t"] if t["tt"] == 7 for s in t["sg"]]
    assert texts == [title]


@pytest.mark.nemo_sandbox(silent_edit_ratio=0.0, initial_credits=1000)
async def test_an_edit_without_new_words_keeps_the_title_and_may_recolour_it(
    api: Api, red_png: bytes
) -> None:
    sid = await _generate(api, ("red.png", red_png), SDK_PROMPT.format(s=1, words="sunset"))
    await api.chat(sid, "make the title red")
    title = next(t for t in (await _draft(api, sid))["t"] if t["tt"] == 7)["sg"][0]
    assert title["m"]["text"] == "Sunset" and title["style"]["color"] == "#FF0000"
    await api.chat(sid, "add a title")
    title = next(t for t in (await _draft(api, sid))["t"] if t["tt"] == 7)["sg"][0]
    assert title["m"]["text"] == "Sunset" and title["style"]["color"] == "#FF0000"
    plan = plan_from_draft(await _draft(api, sid), height=144, fps=4, resolve=lambda _: None)
    assert [(t.text, t.color) for t in plan.titles] == [("Sunset", (255, 0, 0))]
    await api.chat(sid, "change the title to 'Dusk'")
    title = next(t for t in (await _draft(api, sid))["t"] if t["tt"] == 7)["sg"][0]
    assert title["m"]["text"] == "Dusk" and title["style"]["color"] == "#FF0000"


# ---- B: the requested resolution --------------------------------------------------------------
@pytest.mark.nemo_sandbox(render_height=1080, render_fps=2)
@pytest.mark.parametrize(("resolution", "size"), [("480p", (640, 480)), ("720p", (960, 720))])
async def test_the_requested_resolution_is_rendered(
    nemo_sandbox: Sandbox, api: Api, red_png: bytes, resolution: str, size: tuple[int, int]
) -> None:
    message = SDK_PROMPT.format(s=1, words=f"waves ({resolution})")
    sid = await _generate(api, ("red.png", red_png), message)  # a 4:3 image
    canvas = (await api.state(sid))["state"]["canvas_config"]
    assert (canvas["width"], canvas["height"], canvas["ratio"]) == (*size, "4:3")
    frames = await _frames(api, await _render(api, sid, f"render_{resolution}"))
    assert frames[0].shape[:2] == (size[1], size[0])
    job = nemo_sandbox.render_job(f"render_{resolution}")
    assert (job.width, job.height) == size


async def test_render_height_caps_the_requested_resolution(api: Api, red_png: bytes) -> None:
    sid = await _generate(api, ("red.png", red_png), SDK_PROMPT.format(s=1, words="x (720p)"))
    frames = await _frames(api, await _render(api, sid, "render_capped"))
    assert frames[0].shape[:2] == (144, 192)  # the test sandbox's render_height: 144


# ---- B: uploads by URL are fetched ------------------------------------------------------------
async def test_an_image_uploaded_by_url_is_fetched_and_rendered(
    nemo_sandbox: Sandbox, api: Api, pictures: str
) -> None:
    sid = await api.new_session()
    for path in ("/red.png", "/picture"):
        data = await api.data(
            "POST",
            f"/api/upload-video/nemo_agent/me/{sid}",
            json={"urls": [pictures + path], "source_type": "url"},
        )
        info = data["files"][0]
        assert (info["file_type"], info["width"], info["height"]) == ("image", 64, 48)
        assert info["cdn_url"].startswith(nemo_sandbox.cdn_url + "/media/")
    assert info["filename"] == "picture.png"  # named after its content
    await api.chat(sid, "animate this image into a 1-second clip")
    frames = await _frames(api, await _render(api, sid, "render_url"))
    _assert_red(frames[0])


@pytest.mark.parametrize(
    ("path", "code", "words"),
    [
        ("/missing.png", 422, "HTTP 404"),
        ("/notes.png", 4001, ""),
        ("/slow.png", 422, "timed out"),
    ],
)
async def test_a_url_that_cannot_be_fetched_fails_the_upload(
    monkeypatch: pytest.MonkeyPatch, api: Api, pictures: str, path: str, code: int, words: str
) -> None:
    monkeypatch.setattr(api_module, "URL_FETCH_TIMEOUT", aiohttp.ClientTimeout(total=0.3))
    sid = await api.new_session()
    status, body, _ = await api.call(
        "POST", f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [pictures + path]}
    )
    assert body["code"] == code and words in body["message"], body
    assert status == (200 if code == 4001 else 422)
    assert (await api.state(sid))["state"]["video_infos"] == []


async def test_a_url_over_the_upload_limit_is_4002(
    nemo_sandbox_factory: Any, http: aiohttp.ClientSession, pictures: str, red_png: bytes
) -> None:
    sandbox = await nemo_sandbox_factory(upload_limit=len(red_png) - 1)
    api = Api(http, sandbox.url)
    await api.anonymous()
    sid = await api.new_session()
    _status, body, _ = await api.call(
        "POST", f"/api/upload-video/nemo_agent/me/{sid}", json={"urls": [pictures + "/red.png"]}
    )
    assert body["code"] == 4002, body
