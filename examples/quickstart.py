"""Animate one image: the SDK's main job in a dozen lines.

    python examples/quickstart.py examples/assets/sunset.jpg --sandbox

Without --sandbox it talks to NEMO_API_URL (default: NemoVideo's service) with NEMO_TOKEN or an
anonymous token.
"""

from __future__ import annotations

import argparse
import asyncio

from _sandbox import open_client

from nemovideo import Progress

_last_line = ""


def show(report: Progress) -> None:
    """Print a progress line when it says something new (a stage reports many times)."""
    global _last_line
    percent = f" {report.fraction:.0%}" if report.fraction is not None else ""
    line = f"{report.stage.value:>12}{percent} {report.message}"
    if line != _last_line:
        _last_line = line
        print(line)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("prompt", nargs="?", default=None)
    parser.add_argument("-o", "--output", default="animated.mp4")
    parser.add_argument("--sandbox", action="store_true", help="use a local sandbox")
    args = parser.parse_args()
    async with open_client(args.sandbox) as client:
        video = await client.animate(args.image, args.prompt, output=args.output, on_progress=show)
    print(f"saved {video.path} ({video.size} bytes, {video.duration} s): {video.summary}")


if __name__ == "__main__":
    asyncio.run(main())
