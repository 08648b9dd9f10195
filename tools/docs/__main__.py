"""`make docs`: rewrite every generated document."""

from __future__ import annotations

import sys

from tools.docs import write


def main() -> int:
    written = write()
    print("rewrote " + ", ".join(written) if written else "every generated document is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
