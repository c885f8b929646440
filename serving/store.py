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
from serving import chain, database, outcomes, queries
from serving import inference_log as log
from serving.db_models import ChainHeadRow, DecisionRow, ScoreRow, TokenRow
from serving.outcomes import OutcomeRecord

if TYPE_CHECKING:  # serving.auth is built on the store
    from serving.auth import Principal
from serving.records import (
    ChainCheck,
    Counts,
    DecisionRecord,
    OverrideRate,
    QueueItem,
    ReferralRecord,
    StoreError,
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
    ) -> list[int]:
        """Log scores (and upsert their referrals) in one transaction.

        Each item is ``(referral, score, features)``; ``features`` are the model inputs.
        ``request_id`` is the request's id, or one per item when several requests are
        committed together (:class:`serving.scoring.Scorer` groups concurrent requests).
        Re-scoring a referral appends a score (earlier ones are kept) and replaces the stored
        document with the newer one. Returns the new score ids in item order.
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
            referrals[ref.referral_id] = log.referral_values(ref, now)
            scores.append(log.score_row(score, features, ids[i], now, f"items[{i}]"))
        rows = list(referrals.values())
        with self._write() as s, s.begin():
            for start in range(0, len(rows), _CHUNK):
                s.execute(log.upsert_referrals(self.backend, rows[start : start + _CHUNK]))
            s.add_all(scores)
            s.flush()
            return [r.id for r in scores]

    # --- decision log -----------------------------------------------------------------

    def add_decision(
        self, fb: Feedback, by: Principal | None = None
    ) -> tuple[DecisionRecord, bool]:
        """Append a reviewer's decision to the chain; returns ``(record, created)``.

        ``by`` is the bearer token the service authenticated for the request: its id and
        name are recorded (and hashed) beside the ``reviewer`` the client named.

        Returns only after the commit, so a returned record is durable. The decision is
        tied to the referral's latest score (what the reviewer was shown). Sending the same
        decision on the same score again stores nothing and returns the first record with
        ``created=False``, so clients may retry freely. Writers are serialised on the chain
        head, so concurrent calls (threads, workers, hosts) never fork the chain.

        Raises :class:`UnknownReferral` if the referral was never scored here.
        """
        content = fb.model_dump()
        with self._write() as s, s.begin():
            head = s.execute(
                select(ChainHeadRow).where(ChainHeadRow.id == 1).with_for_update()
            ).scalar_one()
            score_id = s.scalar(
                select(ScoreRow.id)
                .where(ScoreRow.referral_id == fb.referral_id)
                .order_by(ScoreRow.id.desc())
                .limit(1)
            )
            if score_id is None:
                raise UnknownReferral()
            key = chain.idempotency_key(content, score_id)
            existing = s.scalar(select(DecisionRow).where(DecisionRow.idempotency_key == key))
            if existing is not None:
                return DecisionRecord.of(existing), False
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
        return record, True

    def add_outcome(
        self, report: OutcomeReport, by: Principal | None = None
    ) -> tuple[OutcomeRecord, bool]:
        """Append an outcome report (contract §5b); ``(record, created)``, durable on return.
        The same (referral_id, agency, finding) again returns the first record, created
        False. Raises :class:`UnknownReferral` if the referral was never scored here."""
        with self._write() as s, s.begin():
            return outcomes.add(
                s, report, self._now(), by.name if by else None, by.token_id if by else None
            )

    def verify_outcomes(self) -> ChainCheck:
        """Recompute the outcome reports' chain (``serving/outcomes.py``)."""
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
            return ChainCheck(ok=True, checked=checked, head_hash=head.last_hash)
        return ChainCheck(
            ok=False,
            checked=checked,
            head_hash=head.last_hash,
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
    ) -> list[QueueItem]:
        """Referrals whose latest score awaits a decision, most urgent first.

        Ordered by priority (desc), then ``received_at`` (oldest first), then
        ``referral_id``, so pages are stable. ``tier`` filters on the latest score's tier.
        """
        with self._read() as s:
            return queries.queue(s, limit, offset, tier, source)

    def referral(self, referral_id: str) -> ReferralRecord | None:
        """The stored referral with all its scores and decisions; None if never scored."""
        with self._read() as s:
            return queries.referral(s, referral_id)

    def decisions(self, since: datetime | None = None) -> list[DecisionRecord]:
        """Decision records in chain order; with ``since``, those decided at or after it."""
        with self._read() as s:
            return queries.decisions(s, since)

    def confirmed_labels(self) -> list[Labelled]:
        """Training labels from decisions: each decided referral with its latest decision.

        The label is :meth:`DecisionRecord.outcome` (never the tier alone) with its
        provenance; the referral is the stored (pseudonymised, free-text-free) document.
        """
        with self._read() as s:
            return queries.confirmed_labels(s)

    def history_referrals(self) -> Iterator[tuple[Referral, Outcome | None]]:
        """Every stored referral (oldest first) with its latest decision's outcome or None.

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

    # --- tokens (use serving.auth, which hashes them) -----------------------------------

    def insert_token(self, name: str, role: Role, token_sha256: str) -> TokenInfo:
        if not 1 <= len(name) <= 128:
            raise StoreError("name", "must be 1-128 characters")
        if role not in get_args(Role):
            raise StoreError("role", f"must be one of {', '.join(get_args(Role))}")
        row = TokenRow(
            name=name, role=role, token_sha256=token_sha256, created_at=self._now(), revoked=False
        )
        with self._write() as s, s.begin():
            s.add(row)
            s.flush()
            return TokenInfo.of(row)

    def find_token(self, token_sha256: str) -> TokenInfo | None:
        """The token with this hash if it exists and is not revoked."""
        with self._read() as s:
            row = s.scalar(
                select(TokenRow).where(TokenRow.token_sha256 == token_sha256, ~TokenRow.revoked)
            )
            return None if row is None else TokenInfo.of(row)

    def tokens(self) -> list[TokenInfo]:
        with self._read() as s:
            return [TokenInfo.of(r) for r in s.scalars(select(TokenRow).order_by(TokenRow.id))]

    def revoke_token(self, token_id: int) -> bool:
        """Revoke a token; False if there is no such token or it was already revoked."""
        with self._write() as s, s.begin():
            row = s.get(TokenRow, token_id)
            if row is None or row.revoked:
                return False
            row.revoked, row.revoked_at = True, self._now()
            return True
