"""The durable store behind the service: referrals, the inference log, the decision log, tokens.

``Store(url)`` works on SQLite (the default, under ``var/``) and PostgreSQL
(``TRIAGE_DATABASE_URL``). Call :meth:`Store.migrate` once at start-up; it is idempotent.
Every public method is its own transaction; a method that returns has committed, so an
acknowledged decision is on disk. Free text never reaches the database from a referral:
``narrative`` is dropped and ``escalation_reason`` is replaced by a marker. Nothing here
logs identifier values or free text; error messages name fields, never values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from features.contract import (
    Feedback,
    Outcome,
    OutcomeReport,
    Referral,
    Role,
    Score,
    Source,
    Tier,
)
from features.ingest import Labelled
from models.operating_policy import OperatingPolicy, load_policy
from serving import (
    access_log,
    blind_review,
    chain,
    database,
    label_updates,
    outcomes,
    queries,
    sightings,
)
from serving import inference_log as log
from serving.access_log import Access
from serving.blind_review import BlindItem, BlindView
from serving.db_models import (
    AccessHeadRow,
    AccessRow,
    CaseEventRow,
    CaseHeadRow,
    ChainHeadRow,
    DecisionRow,
    OutcomeHeadRow,
    OutcomeReportRow,
    ScoreRow,
    TokenRow,
)
from serving.outcomes import OutcomeRecord
from serving.redact import redact_identifiers

if TYPE_CHECKING:  # serving.auth is built on the store
    from serving.auth import Principal
from serving.records import (
    AccessRecord,
    ChainCheck,
    Counts,
    DecisionRecord,
    NotThisPerson,
    OverrideRate,
    QueueItem,
    ReferralRecord,
    StoreError,
    SupersededScore,
    TokenInfo,
    UnknownReferral,
)

BACKENDS = ("sqlite", "postgresql")
_CHUNK = 500  # rows per multi-row INSERT: well under SQLite's bound-parameter limit


class Store:
    """The store on one database URL. Thread-safe; share one per process and ``close()`` it.

    ``clock`` (for tests) gives the times written as ``decided_at``, ``recorded_at`` and
    ``created_at``; it must return aware datetimes.
    """

    def __init__(self, url: str, *, clock: Callable[[], datetime] | None = None) -> None:
        backend = database.backend_of(url)
        if backend not in BACKENDS:
            raise StoreError("database_url", "only sqlite and postgresql are supported")
        self.url = url
        self._engine = database.make_engine(url)
        self._writer = database.writer(self._engine)
        self._clock = clock or (lambda: datetime.now(UTC))

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({database.safe_url(self.url)!r})"

    @property
    def backend(self) -> str:
        return self._engine.dialect.name

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    def _read(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    def _write(self) -> Session:
        """A session whose transaction holds SQLite's write lock from its first statement."""
        return Session(self._writer, expire_on_commit=False)

    @contextmanager
    def transaction(self, session: Session | None = None) -> Iterator[Session]:
        """A write transaction, committed on a clean exit; given a caller's ``session``,
        that one (nothing opened or committed here: the caller's commit is all or nothing)."""
        if session is not None:
            yield session
            return
        with self._write() as s, s.begin():
            yield s

    def reading(self) -> Session:
        """A read session for the store's modules (``with store.reading() as s``)."""
        return self._read()

    # --- schema -----------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the latest revision (alembic ``upgrade head``); idempotent."""
        database.migrate(self._engine)

    def is_current(self) -> bool:
        """Whether the database exists and is at the latest revision (for readiness)."""
        try:
            return database.current_revision(self._engine) == database.head_revision()
        except Exception:  # unreachable or not a store: not ready, whatever the cause
            return False

    # --- inference log ----------------------------------------------------------------

    def record_scores(
        self,
        items: Sequence[tuple[Referral, Score, Mapping[str, Any]]],
        request_id: str | Sequence[str],
        also: Callable[[Session, datetime], object] | None = None,
        session: Session | None = None,
    ) -> list[int]:
        """Log scores (and upsert their referrals) in one transaction.

        Each item is ``(referral, score, features)``; ``features`` are the model inputs.
        ``request_id`` is the request's id, or one per item when several requests are
        committed together (:class:`serving.scoring.Scorer` groups concurrent requests).
        Re-scoring a referral appends a score and its document (earlier versions are kept,
        each with the score made from it; decisions stay bound to theirs) and makes the
        newer document the referral's latest. Returns the new score ids in item order.
        ``also(session, now)`` writes more in the same transaction (the case events). With
        ``session`` (from :meth:`ordered`) the rows are written in its transaction.
        """
        given = [request_id] if isinstance(request_id, str) else list(request_id)
        ids = given * len(items) if isinstance(request_id, str) else given
        if len(ids) != len(items):
            raise StoreError("request_id", "one per item when given as a list")
        if any(not 1 <= len(rid) <= 128 for rid in given):
            raise StoreError("request_id", "must be 1-128 characters")
        now = self._now()
        referrals: dict[str, dict[str, Any]] = {}
        scores: list[ScoreRow] = []
        for i, (ref, score, features) in enumerate(items):
            if score.referral_id != ref.referral_id:
                raise StoreError(f"items[{i}].score.referral_id", "differs from the referral's")
            values = log.referral_values(ref, now)
            referrals[ref.referral_id] = values
            scores.append(
                log.score_row(score, features, ids[i], now, f"items[{i}]", values["document"])
            )
        rows = list(referrals.values())
        if session is not None:
            return self._insert_scores(session, rows, scores, also, now)
        with self._write() as s, s.begin():
            return self._insert_scores(s, rows, scores, also, now)

    def _insert_scores(
        self,
        s: Session,
        rows: list[dict[str, Any]],
        scores: list[ScoreRow],
        also: Callable[[Session, datetime], object] | None,
        now: datetime,
    ) -> list[int]:
        for start in range(0, len(rows), _CHUNK):
            s.execute(log.upsert_referrals(self.backend, rows[start : start + _CHUNK]))
        s.add_all(scores)
        s.flush()
        if also is not None:
            also(s, now)
        return [r.id for r in scores]

    @contextmanager
    def ordered(self) -> Iterator[Session]:
        """A write transaction holding the linking history's order lock
        (:mod:`serving.sightings`); it commits when the block ends without an exception."""
        with sightings.queue(self.url), self._write() as s, s.begin():
            sightings.lock(s)
            yield s

    # --- decision log -----------------------------------------------------------------

    def add_decision(
        self, fb: Feedback, by: Principal | None = None, *, session: Session | None = None
    ) -> tuple[DecisionRecord, bool]:
        """Append a reviewer's decision to the chain; returns ``(record, created)``.

        ``by`` is the bearer token the service authenticated: the recorded ``reviewer`` is
        its person (a name sent in ``fb`` must be theirs, else :class:`NotThisPerson`), its
        id and name are recorded and hashed, and it is part of the idempotency key, so one
        person's decision is never taken for another's retry. Without ``by`` (the store's
        own callers) the feedback must name the reviewer.

        The decision is bound to ``fb.score_id``, the score the reviewer was shown (without
        one: the latest). A score that a newer one has superseded is refused with
        :class:`SupersededScore`; a ``model_version`` other than that score's is refused.
        Identifiers typed into ``reason`` are redacted (:mod:`serving.redact`).

        Returns only after the commit, so a returned record is durable. Sending the same
        decision on the same score again stores nothing and returns the first record with
        ``created=False``, so clients may retry freely. Writers are serialised on the chain
        head, so concurrent calls (threads, workers, hosts) never fork the chain.

        Raises :class:`UnknownReferral` if the referral was never scored here, and the
        blind review's safeguards (``serving/blind_review.py``): a ``second_blind`` review
        of a referral not drawn, or by the person who made its first review (and the
        other way round). Within a caller's ``session`` (:meth:`transaction`: a package
        decision) nothing commits here.
        """
        content = fb.model_dump(exclude={"score_id"})
        if by is not None:
            if fb.reviewer is not None and fb.reviewer != by.name:
                raise NotThisPerson()
            content["reviewer"] = by.name
        elif not fb.reviewer:
            raise StoreError("reviewer", "required when no authenticated person records it")
        content["reason"] = redact_identifiers(fb.reason)
        with self.transaction(session) as s:
            head = s.execute(
                select(ChainHeadRow).where(ChainHeadRow.id == 1).with_for_update()
            ).scalar_one()
            latest = s.execute(
                select(ScoreRow.id, ScoreRow.model_version)
                .where(ScoreRow.referral_id == fb.referral_id)
                .order_by(ScoreRow.id.desc())
                .limit(1)
            ).first()
            if latest is None:
                raise UnknownReferral()
            score_id, version = int(latest[0]), str(latest[1])
            token = by.token_id if by else None
            if fb.score_id is not None and fb.score_id != score_id:
                seen = s.get(ScoreRow, fb.score_id)
                if seen is None or seen.referral_id != fb.referral_id:
                    raise StoreError("score_id", "not a score of this referral")
                # a retry of a decision recorded before the re-score is that decision, not
                # a refusal: the client must not tell the reviewer it was not taken
                retried = self._decision_by_key(
                    s, chain.idempotency_key(content, fb.score_id, token)
                )
                if retried is not None:
                    return retried, False
                raise SupersededScore(score_id)
            if fb.model_version != version:
                raise StoreError("model_version", "is not the version of the score decided on")
            key = chain.idempotency_key(content, score_id, token)
            existing = self._decision_by_key(s, key)
            if existing is not None:
                return existing, False
            blind_review.check_review(s, content, s.get_one(ScoreRow, score_id))
            row = DecisionRow(
                id=head.last_id + 1,
                score_id=score_id,
                decided_at=self._now(),
                idempotency_key=key,
                prev_hash=head.last_hash,
                recorded_by_token=by.token_id if by else None,
                recorded_by=by.name if by else None,
                **content,
            )
            fields = chain.HASHED_FIELDS + chain.OPTIONAL_HASHED_FIELDS
            row.hash = chain.record_hash({f: getattr(row, f) for f in fields}, row.prev_hash)
            s.add(row)
            head.last_id, head.last_hash = row.id, row.hash
            s.flush()
            record = DecisionRecord.of(row)
            label_updates.after_record(s, record.referral_id, decision_id=record.id)
        return record, True

    @staticmethod
    def _decision_by_key(s: Session, key: str) -> DecisionRecord | None:
        row = s.scalar(select(DecisionRow).where(DecisionRow.idempotency_key == key))
        return None if row is None else DecisionRecord.of(row)

    def add_outcome(
        self, report: OutcomeReport, by: Principal | None = None
    ) -> tuple[OutcomeRecord, bool]:
        """Append an outcome report (contract §5b); ``(record, created)``, durable on return.
        The same (referral_id, agency, finding) again returns the first record, created
        False. Raises :class:`UnknownReferral` if the referral was never scored here."""
        with self._write() as s, s.begin():
            record, created = outcomes.add(
                s, report, self._now(), by.name if by else None, by.token_id if by else None
            )
            if created:
                label_updates.after_record(s, record.referral_id, outcome_id=record.id)
            return record, created

    def outcomes_for(self, referral_id: str) -> list[OutcomeRecord]:
        """The referral's outcome reports in the order recorded."""
        with self._read() as s:
            return outcomes.for_referral(s, referral_id)

    def verify_outcomes(self) -> ChainCheck:
        """Recompute the outcome reports' chain up to its head (``serving/outcomes.py``)."""
        with self._read() as s:
            return outcomes.verify(s)

    def verify_chain(self) -> ChainCheck:
        """Recompute the chain from the first record; report the first break, if any.

        Checks that ids run 1..n without gaps, that each ``prev_hash`` is the previous
        record's hash, that each record's content still gives its hash, and that the last
        record matches the chain head (so records cut off the end are noticed too).
        Decisions appended while this runs are outside the checked range.
        """
        with self._read() as s:
            head = s.get(ChainHeadRow, 1)
            if head is None:
                return ChainCheck(ok=False, checked=0, head_hash="", reason="chain head missing")
            rows = s.execute(
                select(DecisionRow.__table__)
                .where(DecisionRow.id <= head.last_id)
                .order_by(DecisionRow.id)
                .execution_options(yield_per=1000)
            ).mappings()
            checked, broken = chain.find_break(rows, head.last_id, head.last_hash)
        if broken is None:
            return ChainCheck(ok=True, checked=checked, head_hash=head.last_hash, head_id=checked)
        return ChainCheck(
            ok=False,
            checked=checked,
            head_hash=head.last_hash,
            head_id=head.last_id,
            first_bad_id=broken.record_id,
            reason=broken.reason,
        )

    # --- reads ------------------------------------------------------------------------

    def queue(
        self,
        limit: int = 100,
        offset: int = 0,
        tier: Tier | None = None,
        source: Source | None = None,
        *,
        policy: OperatingPolicy | None = None,
        now: datetime | None = None,
    ) -> list[QueueItem]:
        """Referrals whose latest score awaits a decision, most urgent now first.

        Ordered by priority now (``models.ageing``: the priority at scoring aged by the
        time waited against ``policy``'s tier targets and by the hours left to the
        preservation deadline, at ``now``, default the store's clock), then
        ``received_at`` (oldest first), then ``referral_id``, so pages read at one moment
        are stable. ``tier`` filters on the latest score's tier.
        """
        at = now or self._now()
        with self._read() as s:
            return queries.queue(
                s, limit, offset, tier, source, now=at, policy=policy or load_policy()
            )

    def referral(self, referral_id: str) -> ReferralRecord | None:
        """The stored referral with all its scores and decisions; None if never scored."""
        with self._read() as s:
            return queries.referral(s, referral_id)

    def blind_queue(self, limit: int = blind_review.MAX_ITEMS) -> list[BlindItem]:
        """Referrals drawn for the blind second review that still await it (no model output)."""
        with self._read() as s:
            return blind_review.queue(s, limit)

    def blind_view(self, referral_id: str) -> BlindView | None:
        """A scored referral without anything the model said (``serving/blind_review.py``)."""
        with self._read() as s:
            return blind_review.view(s, referral_id)

    def decisions(self, since: datetime | None = None) -> list[DecisionRecord]:
        """Decision records in chain order; with ``since``, those decided at or after it."""
        with self._read() as s:
            return queries.decisions(s, since)

    def confirmed_labels(self) -> list[Labelled]:
        """Training labels: each decided referral with its one best label, chosen from all
        its decisions and outcome reports by :func:`features.labels.best_label` (outcome,
        else blind review, else first review; never the tier alone) with its provenance;
        the referral is the stored (pseudonymised, free-text-free) document.
        """
        with self._read() as s:
            return queries.confirmed_labels(s)

    def history_referrals(self) -> Iterator[tuple[Referral, Outcome | None]]:
        """Every stored referral (oldest first) with its best label (as
        :meth:`confirmed_labels`) or None.

        Streams; the linking history uses ``decided_at`` so a decision only counts for
        referrals received after it. Exhaust or close the iterator to end its transaction.
        """
        with self._read() as s:
            yield from queries.history_referrals(s)

    def override_rates(
        self, window: timedelta, since: datetime | None = None
    ) -> list[OverrideRate]:
        """Overrides / decisions per window (aligned to the epoch, UTC) and per model tier.

        The tier is the one the model gave in the score the reviewer saw, so a rising rate
        for a tier says the model's calls at that tier are being corrected more often.
        """
        with self._read() as s:
            return queries.override_rates(s, window, since)

    def counts(self) -> Counts:
        """Table sizes and the queue's length, for health and metrics."""
        with self._read() as s:
            return queries.counts(s)

    # --- the access log (serving.access_log) --------------------------------------------

    def record_access(self, *entries: Access) -> list[AccessRecord]:
        """Append access records (one transaction); durable when this returns."""
        with self._write() as s, s.begin():
            return access_log.append(s, entries, self._now())

    def access_for(self, referral_id: str) -> list[AccessRecord]:
        """Who read (or was refused) this referral, or saw it on a queue page."""
        with self._read() as s:
            return access_log.for_referral(s, referral_id)

    def access_recent(self, limit: int = 100) -> list[AccessRecord]:
        with self._read() as s:
            return access_log.recent(s, limit)

    def verify_access(self) -> ChainCheck:
        with self._read() as s:
            return access_log.verify(s)

    def prune_access(self, keep: timedelta) -> int:
        """Retention: delete access records older than ``keep``; returns how many."""
        with self._write() as s, s.begin():
            return access_log.prune(s, self._now() - keep)

    # --- anchoring (serving.anchor) ---------------------------------------------------

    def heads(self) -> dict[str, tuple[int, str]]:
        """The chains' heads: ``{"decisions": (id, hash), "access": …, "outcomes": …,
        "cases": …}``."""
        with self._read() as s:
            d = s.get(ChainHeadRow, 1)
            a = s.get(AccessHeadRow, 1)
            o = s.get(OutcomeHeadRow, 1)
            c = s.get(CaseHeadRow, 1)
            if d is None or a is None or o is None or c is None:
                raise StoreError("chain", "chain head missing")
            return {
                "decisions": (d.last_id, d.last_hash),
                "access": (a.last_id, a.last_hash),
                "outcomes": (o.last_id, o.last_hash),
                "cases": (c.last_id, c.last_hash),
            }

    def hash_at(self, log_name: str, record_id: int) -> str | None:
        """The stored hash of record ``record_id`` of ``decisions``, ``access``,
        ``outcomes`` or ``cases`` (None: no such record, or cut by retention)."""
        table: type[DecisionRow] | type[OutcomeReportRow] | type[AccessRow] | type[CaseEventRow] = (
            AccessRow
        )
        if log_name == "decisions":
            table = DecisionRow
        elif log_name == "outcomes":
            table = OutcomeReportRow
        elif log_name == "cases":
            table = CaseEventRow
        with self._read() as s:
            return s.scalar(select(table.hash).where(table.id == record_id))

    # --- tokens (use serving.auth, which hashes them) -----------------------------------

    def insert_token(
        self,
        name: str,
        role: Role,
        token_sha256: str,
        *,
        expires_at: datetime | None = None,
        lifetime: timedelta | None = None,
        by: str | None = None,
        rotated_from: int | None = None,
    ) -> TokenInfo:
        """Store a token's hash; the creation is recorded in the access log (with ``by``).

        It expires at ``expires_at``, or ``lifetime`` after its creation (neither: never)."""
        if not 1 <= len(name) <= 128 or not name.isprintable():
            raise StoreError("name", "must be 1-128 printable characters")
        if role not in get_args(Role):
            raise StoreError("role", f"must be one of {', '.join(get_args(Role))}")
        now = self._now()
        if lifetime is not None:
            expires_at = now + lifetime
        row = TokenRow(
            name=name,
            role=role,
            token_sha256=token_sha256,
            created_at=now,
            revoked=False,
            expires_at=expires_at,
            created_by=by,
            rotated_from=rotated_from,
        )
        with self._write() as s, s.begin():
            s.add(row)
            s.flush()
            what = "token_rotated" if rotated_from else "token_created"
            detail = f"token {row.id} ({role}) for {name}"[:256]
            access_log.append(s, [Access(action=what, status=0, actor=by, detail=detail)], now)
            return TokenInfo.of(row)

    def find_token(self, token_sha256: str) -> TokenInfo | None:
        """The token with this hash if it exists, is not revoked and has not expired."""
        with self._read() as s:
            row = s.scalar(
                select(TokenRow).where(TokenRow.token_sha256 == token_sha256, ~TokenRow.revoked)
            )
            if row is None or (row.expires_at is not None and row.expires_at <= self._now()):
                return None
            return TokenInfo.of(row)

    def tokens(self) -> list[TokenInfo]:
        with self._read() as s:
            return [TokenInfo.of(r) for r in s.scalars(select(TokenRow).order_by(TokenRow.id))]

    def revoke_token(self, token_id: int, by: str | None = None) -> bool:
        """Revoke a token; False if there is no such token or it was already revoked."""
        now = self._now()
        with self._write() as s, s.begin():
            row = s.get(TokenRow, token_id)
            if row is None or row.revoked:
                return False
            row.revoked, row.revoked_at, row.revoked_by = True, now, by
            detail = f"token {row.id} ({row.role}) for {row.name}"[:256]
            access_log.append(
                s, [Access(action="token_revoked", status=0, actor=by, detail=detail)], now
            )
            return True

    def now(self) -> datetime:
        """The store's clock (UTC), for callers that compare with its times."""
        return self._now()
