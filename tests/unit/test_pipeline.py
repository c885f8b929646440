"""Feature pipeline: knowledge-time correctness, history equivalence, invariances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from features.catalogue import CATALOGUE, FEATURES
from features.contract import Outcome
from features.history import History
from features.ingest import parse_documents
from features.pipeline import build_features

T0 = datetime(2024, 1, 1, tzinfo=UTC)
EMAILS = [f"user{i}@example.com" for i in range(4)]
IPS = ["192.0.2.1", "192.0.2.2", "198.51.100.3"]

event = st.fixed_dictionaries(
    {
        "hours": st.integers(0, 24 * 30),
        "email": st.sampled_from(EMAILS),
        "ip": st.sampled_from(IPS),
        "platform": st.sampled_from(["Alpha", "Beta", None]),
        "decided_after": st.one_of(st.none(), st.integers(0, 24 * 10)),
        "package": st.booleans(),
    }
)


def make(events: list[dict], pseudonymiser):
    docs, outs = [], []
    for i, e in enumerate(sorted(events, key=lambda e: e["hours"])):
        t = T0 + timedelta(hours=e["hours"])
        docs.append(
            {
                "referral_id": f"r{i}",
                "received_at": t.isoformat(),
                "source": "ncmec",
                "incident": {"type": "csam", "platform": e["platform"]},
                "subjects": [
                    {
                        "identifiers": [{"kind": "email", "value": e["email"]}],
                        "ip_events": [{"ip": e["ip"]}],
                    }
                ],
            }
        )
        outs.append(
            None
            if e["decided_after"] is None
            else Outcome(
                viability="package" if e["package"] else "lead",
                urgency="routine",
                decided_at=t + timedelta(hours=e["decided_after"]),
            )
        )
    batch = parse_documents(docs, pseudonymiser)
    assert not batch.rejected
    return batch.referrals, outs


@settings(max_examples=40, deadline=None)
@given(st.lists(event, min_size=2, max_size=25), st.data())
def test_adding_later_referrals_never_changes_earlier_rows(pseudonymiser, events, data):
    refs, outs = make(events, pseudonymiser)
    cut = data.draw(st.integers(1, len(refs) - 1))
    t_cut = refs[cut].received_at
    keep = [i for i, r in enumerate(refs) if r.received_at < t_cut]
    full = build_features(refs, outs).X.iloc[keep].reset_index(drop=True)
    part = build_features([refs[i] for i in keep], [outs[i] for i in keep]).X
    pd.testing.assert_frame_equal(full, part)


@settings(max_examples=30, deadline=None)
@given(st.lists(event, min_size=3, max_size=25), st.data(), st.sampled_from([0, 3, 10_000]))
def test_history_gives_the_same_rows_as_one_batch(pseudonymiser, events, data, limit):
    """Indexed (limit 0), mixed index + buffer (3) and buffer-only histories all agree
    with featurising the whole stream at once."""
    refs, outs = make(events, pseudonymiser)
    cut = data.draw(st.integers(1, len(refs) - 2))
    cut2 = data.draw(st.integers(cut, len(refs) - 1))
    whole = build_features(refs, outs).X.iloc[cut2:].reset_index(drop=True)
    hist = History.of(refs[:cut], outs[:cut], buffer_limit=limit)
    hist.extend(refs[cut:cut2], outs[cut:cut2])
    split = build_features(refs[cut2:], outs[cut2:], hist).X
    pd.testing.assert_frame_equal(whole, split)


def test_linking_counts_earlier_sharing_and_known_outcomes_only(pseudonymiser):
    evs = [
        {
            "hours": 0,
            "email": EMAILS[0],
            "ip": IPS[0],
            "platform": "A",
            "decided_after": 2,
            "package": True,
        },
        {
            "hours": 1,
            "email": EMAILS[0],
            "ip": IPS[1],
            "platform": "A",
            "decided_after": None,
            "package": False,
        },
        {
            "hours": 5,
            "email": EMAILS[0],
            "ip": IPS[1],
            "platform": "A",
            "decided_after": None,
            "package": False,
        },
        {
            "hours": 6,
            "email": EMAILS[1],
            "ip": IPS[2],
            "platform": "A",
            "decided_after": None,
            "package": False,
        },
    ]
    X = build_features(*make(evs, pseudonymiser)).X
    assert X["link_prior_referrals"].tolist() == [0, 1, 2, 0]
    # the package decided at hour 2 is not yet known at hour 1, but is at hour 5
    assert X["link_prior_package"].tolist() == [0, 0, 1, 0]
    assert X["ip_prior_referrals"].tolist() == [0, 0, 1, 0]
    assert np.isnan(X["link_days_since_last"].iloc[0])
    assert abs(X["link_days_since_last"].iloc[2] - 4 / 24) < 1e-6
    assert X["platform_seen"].tolist() == [0, 1, 1, 1]


def test_frame_has_catalogue_columns_and_fixed_levels(pseudonymiser):
    X = build_features(
        *make(
            [
                {
                    "hours": 0,
                    "email": EMAILS[0],
                    "ip": IPS[0],
                    "platform": None,
                    "decided_after": None,
                    "package": False,
                }
            ],
            pseudonymiser,
        )
    ).X
    assert tuple(X.columns) == FEATURES
    for spec in CATALOGUE:
        if spec.kind == "categorical":
            assert list(X[spec.name].cat.categories) == list(spec.levels)
        else:
            assert X[spec.name].dtype == np.float32


def test_referral_id_and_platform_name_change_nothing(pseudonymiser):
    evs = [
        {
            "hours": h,
            "email": EMAILS[h % 2],
            "ip": IPS[h % 3],
            "platform": ["Alpha", "Beta"][h % 2],
            "decided_after": 1,
            "package": h % 3 == 0,
        }
        for h in range(12)
    ]
    refs, outs = make(evs, pseudonymiser)
    base = build_features(refs, outs).X
    renamed = [
        r.model_copy(
            update={
                "referral_id": f"other-{i}",
                "incident": r.incident.model_copy(
                    update={"platform": {"Alpha": "Gamma", "Beta": "Delta"}[r.incident.platform]}
                ),
            }
        )
        for i, r in enumerate(refs)
    ]
    pd.testing.assert_frame_equal(base, build_features(renamed, outs).X)


def test_empty_batch(pseudonymiser):
    f = build_features([])
    assert len(f) == 0 and tuple(f.X.columns) == FEATURES


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["k1", "k2", "k3"]),
            st.integers(0, 40),
            st.integers(0, 1),
            st.integers(0, 1),
        ),
        min_size=1,
        max_size=60,
    ),
    st.lists(st.integers(1, 20), min_size=1, max_size=6),
    st.sampled_from([0, 7, 10_000]),
)
def test_history_lookups_equal_the_batch_count_in_any_arrival_order(events, chunks, limit):
    """Events added in chunks, in any time order (older events inserted into the per-key
    buffer, or folded into the index), are counted exactly as ``cum_before`` counts them."""
    import numpy as np

    from features.history import History
    from features.linking import EVENT_COLUMNS, cum_before

    frame = pd.DataFrame(
        {
            "family": "ident",
            "key": [k for k, *_ in events],
            "t": np.array([t for _, t, *_ in events], dtype=np.int64),
            "seen": [s for *_, s, _ in events],
            "decided": [d for *_, d in events],
            "package": 0,
            "urgent": [d for *_, d in events],
        }
    )[list(EVENT_COLUMNS)]
    hist, start = History(buffer_limit=limit), 0
    for size in [*chunks, len(frame)]:
        hist.add_events(frame.iloc[start : start + size].reset_index(drop=True))
        start += size
    q_key = np.array(["k1", "k2", "k3", "k9"] * 11, dtype=object)
    q_t = np.repeat(np.arange(0, 44, 4, dtype=np.int64), 4)
    got = hist.count_before("ident", q_key, q_t)
    weights = frame[["seen", "decided", "package", "urgent"]].to_numpy(np.int64)
    want = cum_before(q_key, q_t, frame["key"].to_numpy(object), frame["t"].to_numpy(), weights)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
