"""`amibot safety events [--log FILE]`: interventions of a run by rule, action and reason."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path


def summarize(lines: list[str]) -> tuple[Counter[tuple[str, str, str]], int]:
    """Counts by (action, reason, rule) and the number of unreadable lines."""
    counts: Counter[tuple[str, str, str]] = Counter()
    bad = 0
    for line in lines:
        try:
            row = json.loads(line)
            counts[(str(row["action"]), str(row["reason"]), str(row["rule"]))] += 1
        except (ValueError, KeyError, TypeError):
            bad += 1
    return counts, bad


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="amibot safety", description=__doc__)
    ap.add_argument("what", choices=["events"])
    ap.add_argument("--log", type=Path, default=Path("runs/safety_events.jsonl"), help="the node's event_log")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    args = ap.parse_args(argv)
    if not args.log.is_file():
        print(f"error: no event log at {args.log} (the safety node's event_log key)", file=sys.stderr)
        return 2
    counts, bad = summarize(args.log.read_text().splitlines())
    if args.json:
        rows = [{"action": a, "reason": r, "rule": u, "count": n} for (a, r, u), n in counts.most_common()]
        print(json.dumps({"events": rows, "unreadable_lines": bad}))
        return 0
    print(f"{sum(counts.values())} interventions in {args.log}")
    print(f"{'count':>7}  {'action':<6} {'reason':<22} rule")
    for (action, reason, rule), n in counts.most_common():
        print(f"{n:>7}  {action:<6} {reason:<22} {rule}")
    if bad:
        print(f"({bad} unreadable lines skipped)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
