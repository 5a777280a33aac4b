"""``python -m nemovideo``: the same command line as the ``nemovideo`` script."""

from __future__ import annotations

import sys

from nemovideo.cli import main

if __name__ == "__main__":
    sys.exit(main())
