"""Embedding the SDK in an aiohttp web app: upload an image, watch progress live, get the MP4.

    python examples/web_app.py --sandbox        # then open http://127.0.0.1:8080

``POST /animate`` takes a multipart form with an ``image`` (and an optional ``prompt``) and answers
a stream of server-sent events: one ``progress`` event per step, then ``done`` with the video's
URL (served by ``GET /videos/<name>``) or ``error`` with a message for people.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from _sandbox import open_client
from aiohttp import web

from nemovideo import NemoClient, NemoError, Progress

CLIENT = web.AppKey("client", NemoClient)
VIDEOS = web.AppKey("videos", Path)

PAGE = """<!doctype html><meta charset="utf-8"><title>Animate an image</title>
<form id="f"><input type="file" name="image" accept="image/*" required>
<input name="prompt" placeholder="what should move?"><button>Animate</button></form>
<pre id="log"></pre><video id="v" controls hidden></video>
<script>
f.onsubmit = async (e) => {
  e.preventDefault();
  const answer = await fetch("/animate", {method: "POST", body: new FormData(f)});
  const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\\n\\n")) >= 0) {
      const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
      const kind = block.match(/^event: (.*)$/m)[1];
      const data = JSON.parse(block.match(/^data: (.*)$/m)[1]);
      log.textContent += kind + " " + (data.message || data.url || "") + "\\n";
      if (kind === "done") { v.src = data.url; v.hidden = false; }
    }
  }
};
</script>"""


async def index(_: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def animate(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("image")
    if not isinstance(upload, web.FileField):
        raise web.HTTPBadRequest(text="send a multipart form with an 'image' file")
    prompt = str(form.get("prompt") or "") or None
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    events: asyncio.Queue[tuple[str, dict[str, object]] | None] = asyncio.Queue()

    def progress(report: Progress) -> None:
        events.put_nowait(("progress", {"stage": report.stage.value, "message": report.message,
                                        "fraction": report.fraction}))  # fmt: skip

    async def work() -> None:
        name = f"{uuid.uuid4().hex}.mp4"
        try:
            data = (upload.filename or "image.jpg", upload.file.read())
            await request.app[CLIENT].animate(
                data, prompt, output=request.app[VIDEOS] / name, on_progress=progress
            )
            events.put_nowait(("done", {"url": f"/videos/{name}"}))
        except NemoError as exc:
            events.put_nowait(("error", {"message": exc.message}))
        finally:
            events.put_nowait(None)

    task = asyncio.ensure_future(work())
    try:
        while (item := await events.get()) is not None:
            kind, data = item
            await response.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
    finally:
        await task
    await response.write_eof()
    return response


async def video(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = request.app[VIDEOS] / name
    if "/" in name or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path)


def make_app(client: NemoClient, videos: Path) -> web.Application:
    """The web app, given a client (its lifetime is the caller's) and a folder for the videos."""
    app = web.Application(client_max_size=200 * 1024 * 1024)
    app[CLIENT] = client
    app[VIDEOS] = videos
    app.router.add_get("/", index)
    app.router.add_post("/animate", animate)
    app.router.add_get("/videos/{name}", video)
    return app


@contextlib.asynccontextmanager
async def running(use_sandbox: bool) -> AsyncIterator[web.Application]:
    with tempfile.TemporaryDirectory() as folder:
        async with open_client(use_sandbox) as client:
            yield make_app(client, Path(folder))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", action="store_true", help="use a local sandbox")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    async with running(args.sandbox) as app:
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port).start()
        print(f"open http://127.0.0.1:{args.port}")
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
