"""Only the Dask rows of ``make bench`` (:mod:`bench.dask_scaling`), on a corpus of N
referrals and the 100-iteration benchmark model: ``python -m bench.dask_only [N]``."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from features.process_env import set_process_env


def main(argv: list[str]) -> None:
    set_process_env()  # before LightGBM loads
    from bench import dask_scaling
    from bench.common import build, corpus, fixed_model, print_table
    from features.pipeline import Features

    n = int(argv[0]) if argv else 8000
    data = corpus(n)
    feats = build(data.labelled)
    model = fixed_model(Features(feats.X, feats.meta, feats.events), data.labelled, 100, 1)
    model.num_threads = 2
    with tempfile.TemporaryDirectory() as tmp:
        rows = dask_scaling.run(model, data, Path(tmp), n=n, parts=8)
    print_table(rows)


if __name__ == "__main__":  # the Dask workers are spawned processes: guard the entry
    main(sys.argv[1:])
