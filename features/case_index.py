"""Point-in-time grouping of referrals into cases: which referrals share a suspect.

Two referrals are **linked** when they share a pseudonymised key of a linking kind:

* person keys, valid across platforms: ``email``, ``phone``, ``device_id``;
* account keys, valid on one platform only: ``esp_user_id``, ``screen_name``,
  ``profile_url`` (the key is the platform and the value);
* ``ip``: the same address within ``IP_WINDOW`` of each other (IP event time, else the
  receipt time), never an address the reporter flagged as a possible proxy.

Display names and group identifiers never link (many people share them). A case is a
connected component of the links (union-find).

**Hubs.** A key that many unrelated people share (a carrier-NAT or VPN exit, a platform's
generic account) would chain unrelated suspects into one giant case. A key is a *hub at
time t* when the referrals carrying it received up to ``t`` name more than
``HUB_PER_KIND`` distinct person keys of one kind (e-mails, phones or devices) other than
itself: one person has one or two of each, a shared address or a generic account collects
the e-mails and phones of everyone who used it. The count is over the key's whole known
life, not a recent window: a generic account on a small platform is seen a few times a
year, and a window would never see enough of it at once to call it a hub (a 90-day
window let one such account chain 177 suspects over three years). Once a hub, always a
hub. A pair sharing a
key is linked only if the key is not a hub at the later of the two receipt times.

**Point in time.** Whether a pair is linked depends only on referrals received up to the
later of the two, so the links, and the cases, as known at any moment never change when
later referrals arrive; later referrals may join or merge cases. Links are kept as a set
of edges between referral ids, each stamped with the time it became known, so the result
is the same for any arrival order (an out-of-order arrival recomputes its keys' edges and,
if one disappeared, rebuilds the components), and ``cases_as_of(t)`` reproduces any
earlier state. In time order, adding a referral touches only its own keys' recent
sightings: the cost does not grow with the history.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from features.case_keys import DAY, Sighting, case_keys, ns_of
from features.contract import Referral
from features.linking import platform_key

IP_WINDOW = 7 * DAY  # an address is one person's only for a while (dynamic assignment)
HUB_PER_KIND = 2  # more distinct co-occurring person keys of one kind than this: a hub

Edge = tuple[str, str]  # (earlier, later) referral ids by (received, id)
Known = tuple[int, str]  # (time the link became known, ns; link kind)


def readable_case_id(root: str) -> str:
    """The batch run's case id: ``case:`` and the earliest member's referral id. The
    service names cases with an opaque keyed digest instead (``serving/case_ids.py``)."""
    return "case:" + root


@dataclass(frozen=True)
class Placement:
    """What placing one referral did: its case's root (earliest member) after, the roots
    of the cases it joined or merged before (empty: it opened a case of its own), and the
    kinds of the links it brought. Roots are referral ids; callers name them."""

    referral_id: str
    root: str
    prior_roots: tuple[str, ...]
    link_kinds: tuple[str, ...]


@dataclass
class _Key:
    """All sightings of one key, sorted by (receipt, id), and the edges they make."""

    kind: str
    sightings: list[Sighting] = field(default_factory=list)
    hub: list[bool] = field(default_factory=list)  # per sighting: a hub at its time
    edges: dict[Edge, Known] = field(default_factory=dict)
    open_from: int = 0  # identifier kinds: sightings from here are not yet linked
    persons: dict[str, set[str]] = field(default_factory=dict)  # co-occurring, per kind

    def _count(self, s: Sighting) -> bool:
        """Add a sighting's person keys; whether the key is now a hub."""
        hub = False
        for p in s.persons:
            kind_seen = self.persons.setdefault(p.partition("|")[0], set())
            kind_seen.add(p)
            hub |= len(kind_seen) > HUB_PER_KIND
        return hub or any(len(v) > HUB_PER_KIND for v in self.persons.values())

    def append(self, s: Sighting) -> None:
        """A sighting later than every one held: a hub stays a hub."""
        was_hub = bool(self.hub) and self.hub[-1]
        self.sightings.append(s)
        self.hub.append(self._count(s) or was_hub)

    def _hubs(self) -> list[bool]:
        """Per sighting, a hub at its receipt time (sightings at one instant count together)."""
        self.persons = {}
        out: list[bool] = []
        i, n = 0, len(self.sightings)
        while i < n:
            j = i
            hub = False
            while j < n and self.sightings[j].t == self.sightings[i].t:
                hub = self._count(self.sightings[j]) or hub
                j += 1
            out += [hub or bool(out and out[-1])] * (j - i)
            i = j
        return out

    def _label(self, a: Sighting, b: Sighting) -> str:
        return "verified_email" if self.kind == "email" and a.verified and b.verified else self.kind

    def new_edges_for(self, i: int) -> dict[Edge, Known]:
        """Edges made by sighting ``i`` as the later end (none when the key is a hub)."""
        s = self.sightings[i]
        if self.hub[i]:
            return {}
        if self.kind == "ip":
            return {
                (a.rid, s.rid): (s.t, "ip")
                for a in self.sightings[:i]
                if abs(s.at - a.at) <= IP_WINDOW
            }
        # every earlier sighting is linked to this one: edges to the first and to those
        # not yet joined give the same components with O(1) edges per sighting
        out = {(x.rid, s.rid): (s.t, self._label(x, s)) for x in self.sightings[self.open_from : i]}
        if i > 0:
            first = self.sightings[0]
            out[(first.rid, s.rid)] = (s.t, self._label(first, s))
        self.open_from = i + 1
        return out

    def recompute(self) -> dict[Edge, Known]:
        """Every edge of the key from scratch (after an out-of-order arrival)."""
        self.hub = self._hubs()
        self.open_from = 0
        edges: dict[Edge, Known] = {}
        for i in range(len(self.sightings)):
            edges.update(self.new_edges_for(i))
        return edges


class CaseIndex:
    """The incremental grouping: ``add`` referrals in any order, read cases at any time."""

    def __init__(self, namer: Callable[[str], str] = readable_case_id) -> None:
        self.received: dict[str, int] = {}
        self.namer = namer  # root (earliest member's referral id) -> case id
        self.last: Placement | None = None  # what the latest ``add`` did (None: a re-add)
        self._members: dict[str, list[str]] = {}  # root -> members, in placement order
        self.platform: dict[str, str] = {}
        self._keys: dict[str, _Key] = {}
        self._parent: dict[str, str] = {}
        self.edges: dict[Edge, Known] = {}  # edge -> (time known, link kind), over keys
        self._edge_keys: dict[Edge, set[str]] = {}
        self._by_referral: dict[str, set[Edge]] = {}  # the edges at each referral

    def __len__(self) -> int:
        return len(self.received)

    @property
    def namer(self) -> Callable[[str], str]:
        return self._namer

    @namer.setter
    def namer(self, namer: Callable[[str], str]) -> None:
        """Name cases with ``namer``; every referral's own name is kept for :meth:`find`."""
        self._namer = namer
        self._named = {namer(r): r for r in self.received}

    def find(self, case_id: str) -> str | None:
        """The root of the case a case id names now (a merged-away id: the case it became)."""
        rid = self._named.get(case_id)
        return None if rid is None else self._find(rid)

    def add(self, ref: Referral) -> str:
        """Place one referral; returns its case id as now known. Re-adding an id is a no-op."""
        rid = ref.referral_id
        self.last = None
        if rid in self.received:
            return self.case_of(rid)
        self.received[rid] = ns_of(ref.received_at)
        self.platform[rid] = platform_key(ref.incident.platform)
        self._parent[rid] = rid
        self._members[rid] = [rid]
        self._named[self._namer(rid)] = rid
        rebuild = False
        fresh: list[Edge] = []
        for key, (kind, s) in case_keys(ref).items():
            k = self._keys.get(key)
            if k is None:
                k = self._keys[key] = _Key(kind)
            if not k.sightings or s.t > k.sightings[-1].t:
                k.append(s)  # in time order: only the new sighting's edges change
                new = k.new_edges_for(len(k.sightings) - 1)
            else:  # out of order or at the same instant: the key's hub times may change
                insort(k.sightings, s, key=lambda x: x.order)
                old, new = k.edges, k.recompute()
                rebuild |= any(e not in new for e in old)
                k.edges = {}
                for e in old:
                    self._drop(e, key)
            k.edges.update(new)
            for e, known in new.items():
                self._link(e, known, key)
            fresh += new
        if rebuild:  # rare (out of order): roots before, from every referral
            before = {r: self._find(r) for r in self.received}
            self._rebuild()
            root = self._find(rid)
            prior = {before[m] for m in self._members[root]}
        else:
            pre = {x: self._find(x) for e in fresh for x in e}
            for a, b in fresh:
                self._union(a, b)
            root = self._find(rid)
            prior = {p for x, p in pre.items() if self._find(x) == root}
        kinds = {self.edges[e][1] for e in fresh if rid in e and e in self.edges}
        self.last = Placement(rid, root, tuple(sorted(prior - {rid})), tuple(sorted(kinds)))
        return self.case_of(rid)

    def extend(self, refs: Iterable[Referral]) -> None:
        for r in refs:
            self.add(r)

    def _link(self, e: Edge, known: Known, key: str) -> None:
        self._edge_keys.setdefault(e, set()).add(key)
        self._by_referral.setdefault(e[0], set()).add(e)
        self._by_referral.setdefault(e[1], set()).add(e)
        prev = self.edges.get(e)
        if prev is None or known < prev:
            self.edges[e] = known

    def _drop(self, e: Edge, key: str) -> None:
        keys = self._edge_keys.get(e)
        if keys is None:
            return
        keys.discard(key)
        if not keys:
            del self._edge_keys[e], self.edges[e]
            self._by_referral[e[0]].discard(e)
            self._by_referral[e[1]].discard(e)
        else:
            self.edges[e] = min(self._keys[k].edges[e] for k in keys)

    def _find(self, x: str) -> str:
        root = x
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[x] != root:
            self._parent[x], x = root, self._parent[x]
        return root

    def _union(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:  # the root is the earliest member: it names the case
            first, other = sorted((ra, rb), key=lambda r: (self.received[r], r))
            self._parent[other] = first
            self._members[first] += self._members.pop(other, [])

    def _rebuild(self) -> None:
        self._parent = {r: r for r in self.received}
        self._members = {r: [r] for r in self.received}
        for a, b in self.edges:
            self._union(a, b)

    def root_of(self, rid: str) -> str:
        return self._find(rid)

    def members_of(self, root: str) -> list[str]:
        """A case's members (by its root) in (received, id) order; [] if not a root."""
        return sorted(self._members.get(root, []), key=lambda r: (self.received[r], r))

    def groups(self, least: int = 2) -> dict[str, list[str]]:
        """Root -> members of every case with at least ``least`` members (unordered)."""
        return {r: list(m) for r, m in self._members.items() if len(m) >= least}

    def case_of(self, rid: str) -> str:
        """The case id of a referral: its case's earliest referral id, named by ``namer``."""
        return self.namer(self._find(rid))

    def cases(self) -> dict[str, list[str]]:
        """Case id -> member referral ids in (received, id) order, as now known."""
        out: dict[str, list[str]] = {}
        for rid in sorted(self.received, key=lambda r: (self.received[r], r)):
            out.setdefault(self.case_of(rid), []).append(rid)
        return out

    def cases_as_of(self, t: int) -> dict[str, list[str]]:
        """The cases as they were known at time ``t`` (ns): referrals received by then, links
        known by then."""
        sub = CaseIndex(self.namer)
        sub.received = {r: x for r, x in self.received.items() if x <= t}
        sub._parent = {r: r for r in sub.received}
        sub._members = {r: [r] for r in sub.received}
        for (a, b), (when, _) in self.edges.items():
            if when <= t:
                sub._union(a, b)
        return sub.cases()

    def links_within(self, members: Iterable[str]) -> list[tuple[str, str, str]]:
        """The (earlier, later, kind) links among ``members``."""
        m = set(members)
        edges = {e for r in m for e in self._by_referral.get(r, ())}
        return [(a, b, self.edges[(a, b)][1]) for a, b in sorted(edges) if a in m and b in m]
