"""Cases and routes for a whole file of referrals (what ``triage cases`` runs).

The referrals are placed one at a time in receipt order into the same
:class:`~features.case_index.CaseIndex` the service would use, so each referral's case
*at its arrival* is what a reviewer would have seen then, and the final grouping is the
case as now known. Routes are proposed per referral and per case.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from features.case_index import CaseIndex
from features.cases import Case, build_case
from features.contract import Referral, Route, Tier, Truth
from features.routes import route_referral
from training.case_metrics import grouping_metrics, route_metrics


@dataclass
class CaseRun:
    index: CaseIndex
    referrals: dict[str, Referral]
    case_at_arrival: dict[str, str]
    cases: list[Case] = field(default_factory=list)
    routes: dict[str, Route] = field(default_factory=dict)

    def case_of(self) -> dict[str, str]:
        return {r: c.case_id for c in self.cases for r in c.referral_ids}

    def case_routes(self) -> dict[str, Route]:
        return {r: c.route for c in self.cases for r in c.referral_ids}


def group_referrals(
    refs: Sequence[Referral],
    priorities: Mapping[str, tuple[float, Tier]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> CaseRun:
    """Place every referral in receipt order, then build the cases and routes."""
    index = CaseIndex()
    at_arrival: dict[str, str] = {}
    ordered = sorted(refs, key=lambda r: (r.received_at, r.referral_id))
    for i, r in enumerate(ordered):
        at_arrival[r.referral_id] = index.add(r)
        if progress is not None and (i + 1) % 10_000 == 0:
            progress(10_000)
    by_id = {r.referral_id: r for r in ordered}
    run = CaseRun(index, by_id, at_arrival)
    for cid, members in index.cases().items():
        run.cases.append(build_case(cid, [by_id[m] for m in members], index, priorities))
    run.routes = {rid: route_referral(r) for rid, r in by_id.items()}
    return run


def measure(
    run: CaseRun, truth: Mapping[str, Truth], measured: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Grouping and routing figures on ``measured`` referrals against the generator's truth."""
    suspects = {r: t.suspect_id for r, t in truth.items()}
    window = {r: truth[r] for r in measured if r in truth}
    case_routes = run.case_routes()
    return {
        "grouping": grouping_metrics(run.case_of(), suspects, list(measured)),
        "route_referral": route_metrics({r: run.routes[r] for r in window}, window),
        "route_case": route_metrics({r: case_routes[r] for r in window}, window),
    }
