"""`amibot train MODEL ...`: dispatch to the trainer of each model family."""

from __future__ import annotations

import sys
from collections.abc import Sequence

TRAINERS = {"encoder": "agent.perception.train", "world-model": "agent.world_model.train"}


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    usage = f"usage: amibot train {{{','.join(TRAINERS)}}} [options]  (amibot train MODEL --help: its options)"
    if argv[:1] in (["-h"], ["--help"]):
        print(usage)
        return 0
    if not argv or argv[0] not in TRAINERS:
        print(usage, file=sys.stderr)
        return 2
    import importlib

    return int(importlib.import_module(TRAINERS[argv[0]]).main(argv[1:]) or 0)
