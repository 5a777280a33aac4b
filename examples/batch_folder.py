"""Animate every image of a folder, four at a time, and print a summary.

python examples/batch_folder.py examples/assets out/ --sandbox
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from _sandbox import open_client

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic"}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--prompt", default=None)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--sandbox", action="store_true", help="use a local sandbox")
    args = parser.parse_args()
    images = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    args.output.mkdir(parents=True, exist_ok=True)
    # Each image costs about 100 credits: an anonymous token (100) covers one.
    async with open_client(args.sandbox) as client:
        batch = client.animate_many(images, concurrency=args.concurrency, output_dir=args.output)
        async for result in batch:
            name = Path(str(result.item.image)).name
            if result.video is not None:
                print(f"ok    {name} -> {result.video.path}")
            else:
                print(f"error {name}: {result.error}")
    print(batch.summary)


if __name__ == "__main__":
    asyncio.run(main())
