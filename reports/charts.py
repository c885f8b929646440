"""Charts for report pages, drawn with matplotlib (Agg, no pyplot state) as inline SVG.

A chart is returned as a ``data:image/svg+xml;base64,...`` URI for an ``<img>`` tag: the
page stays one file, and an SVG shown through ``<img>`` cannot run anything. Labels are
our own (the feature catalogue); math-text parsing is off so no label is interpreted.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from features.catalogue import BY_NAME
from features.contract import Reason

UP, DOWN = "#cf222e", "#0969da"
HEAD_TITLES = {
    "urgency": "Urgency estimate",
    "viability": "Viability estimate",
}


def _label(reason: Reason, limit: int = 58) -> str:
    spec = BY_NAME.get(reason.feature)
    text = spec.describe(reason.value) if spec is not None else reason.feature
    return text if len(text) <= limit else text[: limit - 1] + "…"


def contribution_chart(reasons: Sequence[Reason]) -> str | None:
    """Horizontal bars: each top reason's contribution (log-odds) per head; None when
    there is nothing to draw (rules-only scores carry no contributions)."""
    groups = [
        (head, [r for r in reasons if r.head == head and r.contribution != 0.0])
        for head in HEAD_TITLES
    ]
    groups = [(h, rs) for h, rs in groups if rs]
    if not groups:
        return None
    import matplotlib
    from matplotlib.figure import Figure

    rows = sum(len(rs) for _, rs in groups)
    with matplotlib.rc_context({"svg.fonttype": "none", "text.parse_math": False}):
        fig = Figure(figsize=(7.5, 0.9 + 0.42 * rows + 0.5 * len(groups)))
        axes = fig.subplots(
            len(groups), 1, squeeze=False, height_ratios=[len(rs) for _, rs in groups]
        )
        for ax, (head, rs) in zip(axes[:, 0], groups, strict=True):
            vals = [r.contribution for r in rs][::-1]
            ax.barh(
                range(len(vals)),
                vals,
                color=[UP if v > 0 else DOWN for v in vals],
                height=0.6,
            )
            ax.set_yticks(range(len(vals)), [_label(r) for r in rs][::-1], fontsize=8)
            ax.axvline(0, color="#57606a", linewidth=0.8)
            cls = rs[0].text.rsplit("'", 2)[-2] if rs[0].text.count("'") >= 2 else ""
            ax.set_title(f"{HEAD_TITLES[head]}{f' for {cls!r}' if cls else ''}", fontsize=9)
            ax.tick_params(axis="x", labelsize=8)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        axes[-1, 0].set_xlabel(
            "contribution (log-odds): red raises the estimate, blue lowers it", fontsize=8
        )
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()
