"""Mutants per module and status from ``mutmut results --all true`` (``make mutation``
writes it to ``var/mutation-results.txt``); ``make mutation-score`` prints this table.

A mutant is *caught* when its tests fail (``killed``) or never finish (``timeout``: the
mutant turned a loop endless, e.g. the threshold search's ``while hi - lo >= 1``).
``survived``, ``no tests`` and any other status count against the score; ``not checked`` (mutants a run
restricted to some modules did not try) is shown and left out of the score.

    python tests/mutation_score.py [var/mutation-results.txt]
"""

from __future__ import annotations

import collections
import re
import sys

CAUGHT = ("killed", "timeout")
LINE = re.compile(r"\s*(\S+?)\.x\S*: (.+)$")


def count(lines: list[str]) -> dict[str, collections.Counter[str]]:
    by_module: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in lines:
        m = LINE.match(line)
        if m:
            by_module[m.group(1)][m.group(2).strip()] += 1
    return by_module


def table(by_module: dict[str, collections.Counter[str]]) -> str:
    rows = [f"{'module':24} {'killed':>6} {'timeout':>7} {'survived':>8} {'no tests':>8}  score"]
    total: collections.Counter[str] = collections.Counter()
    for module in sorted(by_module):
        c = by_module[module]
        total.update(c)
        rows.append(_row(module, c))
    rows.append(_row("all", total))
    return "\n".join(rows)


def _row(name: str, c: collections.Counter[str]) -> str:
    caught = sum(c[s] for s in CAUGHT)
    tried = sum(c.values()) - c["not checked"]  # any other status (suspicious, ...) too
    score = f"{caught} of {tried} ({100 * caught / tried:.1f} %)" if tried else "not run"
    unchecked = f"  ({c['not checked']} not checked)" if c["not checked"] else ""
    return (
        f"{name:24} {c['killed']:6} {c['timeout']:7} {c['survived']:8} {c['no tests']:8}"
        f"  {score}{unchecked}"
    )


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "var/mutation-results.txt"
    with open(path, encoding="utf-8") as f:
        print(table(count(f.readlines())))
