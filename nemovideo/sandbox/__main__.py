"""``python -m nemovideo.sandbox [--host H] [--port P] [--time-scale X] [--seed N]``."""

from __future__ import annotations

import sys

from nemovideo.sandbox.runner import main

if __name__ == "__main__":
    sys.exit(main())
