"""One path for each job (issue 16 item 5): the structural promises, checked on the tree.

MLflow is imported by the registry wrapper alone, tiers convert between their two
orderings in one module, and the thread policy is set in one place.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import pytest

from features import tiers
from features.contract import TIERS, URGENCY_CLASSES

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", "var", ".git", "node_modules", "build", "dist"}


def _sources() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_registry_imports_mlflow():
    sources = _sources()
    assert len(sources) > 200  # the walk found the tree
    importers = sorted(str(p.relative_to(ROOT)) for p in sources if "mlflow" in _imports(p))
    assert importers == ["models/registry.py"]


def test_tier_orderings_convert_in_one_module():
    assert tiers.TIER_BY_RANK == {0: "routine", 1: "high", 2: "immediate"}
    assert tiers.RANK == {"routine": 0, "high": 1, "immediate": 2}
    assert TIERS == URGENCY_CLASSES == ("immediate", "high", "routine")
    ranks = np.array([0, 1, 2, 2, 0])
    classes = tiers.class_of_rank(ranks)
    assert [URGENCY_CLASSES[c] for c in classes] == [tiers.tier_of_rank(r) for r in ranks]
    assert np.array_equal(tiers.rank_of_class(classes), ranks)
    assert tiers.most_urgent(["routine", "immediate", "high"]) == "immediate"
    assert tiers.most_urgent(["routine", "high"]) == "high"
    with pytest.raises(KeyError):
        tiers.rank("urgent")


def test_no_module_converts_tiers_by_hand():
    """``2 - rank`` or ``len(TIERS) - 1 - ...`` outside the tier module is a second ordering."""
    bad = []
    for p in _sources():
        if p.name == "tiers.py" or "tests" in p.relative_to(ROOT).parts:
            continue
        text = p.read_text(encoding="utf-8")
        for needle in ("2 - pred.", "2 - model_rank", "len(TIERS) - 1 -", "reversed(TIERS)"):
            if needle in text:
                bad.append(f"{p.relative_to(ROOT)}: {needle}")
    assert bad == []


def test_the_thread_policy_is_set_in_one_place(monkeypatch):
    setters = sorted(
        str(p.relative_to(ROOT))
        for p in _sources()
        if p != Path(__file__).resolve() and '"OMP_WAIT_POLICY"' in p.read_text(encoding="utf-8")
    )
    assert setters == ["features/process_env.py"]
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    from triage import cli

    cli._quiet_third_parties()  # what ``triage``'s entry point calls first
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
