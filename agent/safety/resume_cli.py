"""`amibot resume`: after an e-stop reset, allow motion again (refused while the e-stop is tripped)."""

from __future__ import annotations

import sys

from agent.safety import estop_cli


def main(argv: list[str]) -> int:
    """`amibot estop --resume ARGS`: the same --file, --rpc, --reason and key options."""
    return estop_cli.main(["--resume", *argv], prog="amibot resume")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
