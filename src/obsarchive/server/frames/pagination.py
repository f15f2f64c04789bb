"""Pagination of the list endpoints: limit/offset with cheap counts, and keyset cursors.

Counting every match of a search over years of frames is the slowest part of a page, so (as
upstream) only "small" queries get an exact count, under a statement timeout; the others get
an estimate and ``count_estimated: true``:

* PostgreSQL: the table statistics (``pg_class.reltuples``) for an unfiltered query, else the
  planner's row estimate (``EXPLAIN``) — no helper function needs installing;
* SQLite: there is no planner estimate, so the query is run over a sample of id windows
  spread across the table and the matched fraction is scaled up; a query matching nothing in
  the sample is counted under a short time budget (the table's highest id standing in when
  that runs out).

Unlike upstream, ``next`` also stays available while an estimated count is lower than what the
page shows, and disappears once a page comes back short.

Cursor pagination (``pagination_style=cursor``) is keyset based: the cursor holds the ordering
values of the last row seen, so deep pages cost the same as the first.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import EmptyResultSet, FieldDoesNotExist
from django.db import DatabaseError, connections, models, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import Col, OrderBy
from django.db.models.lookups import IsNull, Lookup
from django.db.models.sql.where import WhereNode
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.exceptions import NotFound

__all__ = [
    "CountResult",
    "CursorPage",
    "count_queryset",
    "cursor_page",
    "limit_offset",
    "never_null",
    "order_by",
    "page_links",
]

logger = logging.getLogger(__name__)

MAX_OFFSET = 2**53  # beyond any table; keeps OFFSET inside every database's integer range
SQLITE_ESTIMATE_BUDGET_MS = 250
# The SQLite estimate reads this many id windows of this many ids each (see _estimate_sqlite).
SQLITE_SAMPLE_WINDOWS = 16
SQLITE_SAMPLE_WIDTH = 64
ESTIMATE_FAILED = 9223372036854775807  # upstream's sys.maxsize answer when estimating fails


def _int_or(value: str | None, default: int) -> int:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def limit_offset(params: Mapping[str, Any], default: int, maximum: int) -> tuple[int, int]:
    """``limit`` (default when absent, 0, negative or not an integer; capped) and ``offset``."""
    limit = _int_or(params.get("limit"), default)
    if limit <= 0:
        limit = default
    limit = min(limit, maximum)
    offset = _int_or(params.get("offset"), 0)
    offset = 0 if offset < 0 else min(offset, MAX_OFFSET)
    return limit, offset


# -- counting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountResult:
    count: int
    estimated: bool


@contextlib.contextmanager
def statement_timeout(using: str, milliseconds: int) -> Iterator[None]:
    """Abort the statements run inside after ``milliseconds`` (0 = no limit).

    PostgreSQL: ``statement_timeout`` set locally inside a savepoint and restored afterwards
    (``SET LOCAL`` alone would outlive the savepoint in an enclosing transaction). SQLite: a
    progress handler interrupts the statement once the deadline has passed.
    Raises :class:`django.db.DatabaseError` (OperationalError) when the timeout fires.
    """
    connection = connections[using]
    if milliseconds <= 0:
        yield
        return
    if connection.vendor == "postgresql":
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('statement_timeout')")
            previous = cursor.fetchone()[0]
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(milliseconds)])
            yield
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
        return
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        deadline = time.monotonic() + milliseconds / 1000.0

        def past_deadline() -> int:
            return 1 if time.monotonic() > deadline else 0

        raw.set_progress_handler(past_deadline, 10_000)
        try:
            yield
        finally:
            raw.set_progress_handler(None, 0)
        return
    yield


def _estimate_postgresql(queryset: QuerySet, using: str) -> int:
    query = queryset.order_by().values("pk").query
    table = queryset.model._meta.db_table
    connection = connections[using]
    with connection.cursor() as cursor:
        if not query.where:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table]
            )
            row = cursor.fetchone()
            # -1 means "never analysed": fall through to the planner, which knows the pages.
            if row is not None and row[0] is not None and row[0] >= 0:
                return int(row[0])
        sql, params = query.get_compiler(using=using).as_sql()
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])


def _sqlite_windows(low: int, high: int) -> list[tuple[int, int]]:
    """Id ranges, spread evenly over ``low..high``, that make up the estimate's sample."""
    width, windows = SQLITE_SAMPLE_WIDTH, SQLITE_SAMPLE_WINDOWS
    span = high - low + 1
    if span <= width * windows:
        return [(low, high)]  # the sample is the whole table: its count is exact
    step = (span - width) // (windows - 1)
    return [(low + i * step, low + i * step + width - 1) for i in range(windows)]


def _sqlite_exact_or_max_rowid(queryset: QuerySet, using: str) -> int:
    """The count under the time budget, else the table's highest id as an upper bound."""
    try:
        with statement_timeout(using, SQLITE_ESTIMATE_BUDGET_MS):
            return queryset.order_by().count()
    except DatabaseError:
        pass
    table = queryset.model._meta.db_table
    with connections[using].cursor() as cursor:
        cursor.execute(f'SELECT MAX(rowid) FROM "{table}"')  # noqa: S608 - our own table name
        row = cursor.fetchone()
    return int(row[0] or 0)


def _estimate_sqlite(queryset: QuerySet, using: str) -> int:
    """Estimate from a sample of id ranges instead of counting every row.

    SQLite has no planner row estimate, and ``sqlite_stat1`` exists only after an ``ANALYZE``
    (which nothing runs on a live archive) and then goes stale. Instead a few id windows spread
    over ``MIN(id)..MAX(id)`` are read through the primary key: how many ids exist in them
    gives the table's density (deleted ids included), and how many of those the query matches
    gives its selectivity. That is at most ``windows x width`` rows of work whatever the table
    size. A query matching nothing in the sample is narrow, so it gets the bounded count.
    """
    model = queryset.model
    everything = model._base_manager.using(using).order_by()
    # Two statements on purpose: SQLite answers a lone MIN() or MAX() from the end of the
    # primary key, but scans the whole table for both in one SELECT.
    low = everything.aggregate(low=models.Min("pk"))["low"]
    high = everything.aggregate(high=models.Max("pk"))["high"]
    if low is None or high is None:
        return 0
    windows = _sqlite_windows(int(low), int(high))
    in_windows = Q()
    for first, last in windows:
        in_windows |= Q(pk__range=(first, last))
    try:
        with statement_timeout(using, SQLITE_ESTIMATE_BUDGET_MS):
            present = len(list(everything.filter(in_windows).values_list("pk", flat=True)))
            matched = len(list(queryset.order_by().filter(in_windows).values_list("pk", flat=True)))
    except DatabaseError as exc:
        logger.info("SQLite count sample gave up (%s); counting under the budget", exc)
        return _sqlite_exact_or_max_rowid(queryset, using)
    if len(windows) == 1:
        return matched
    if matched == 0 or present == 0:
        return _sqlite_exact_or_max_rowid(queryset, using)
    sampled_span = sum(last - first + 1 for first, last in windows)
    rows = present * (int(high) - int(low) + 1) / sampled_span
    return max(matched, round(rows * matched / present))


def count_queryset(queryset: QuerySet, *, exact: bool, timeout_ms: int) -> CountResult:
    """Count ``queryset`` exactly when ``exact`` (and in time), else estimate it."""
    using = queryset.db
    if exact:
        try:
            with statement_timeout(using, timeout_ms):
                return CountResult(queryset.order_by().count(), estimated=False)
        except DatabaseError as exc:
            logger.info("exact count gave up after %d ms (%s); estimating", timeout_ms, exc)
    vendor = connections[using].vendor
    try:
        queryset.query.get_compiler(using=using).as_sql()  # raises EmptyResultSet if so
        if vendor == "postgresql":
            with transaction.atomic(using=using):
                return CountResult(_estimate_postgresql(queryset, using), estimated=True)
        if vendor == "sqlite":
            return CountResult(_estimate_sqlite(queryset, using), estimated=True)
        return CountResult(queryset.order_by().count(), estimated=False)
    except EmptyResultSet:
        # The filters can match nothing (e.g. an empty id list): that count is known exactly.
        return CountResult(0, estimated=False)
    except (DatabaseError, KeyError, IndexError, TypeError, ValueError) as exc:
        logger.warning("count estimate failed: %s", exc)
        return CountResult(ESTIMATE_FAILED, estimated=True)


def page_links(
    base_url: str,
    params: Mapping[str, Sequence[str]],
    *,
    limit: int,
    offset: int,
    count: CountResult,
    shown: int,
) -> tuple[str | None, str | None]:
    """Absolute ``next``/``previous`` URLs preserving every other query parameter."""

    def url_with(new_offset: int | None) -> str:
        pairs: list[tuple[str, str]] = [
            (key, value)
            for key, values in params.items()
            if key not in {"limit", "offset"}
            for value in values
        ]
        pairs.append(("limit", str(limit)))
        if new_offset is not None:
            pairs.append(("offset", str(new_offset)))
        return f"{base_url}?{urlencode(pairs)}"

    more = offset + limit < count.count
    if count.estimated:
        # An estimate may be low or high: a full page suggests more, a short one proves the end.
        more = shown >= limit
    next_url = url_with(offset + limit) if more and shown > 0 else None
    if offset <= 0:
        previous_url = None
    elif offset - limit <= 0:
        previous_url = url_with(None)
    else:
        previous_url = url_with(offset - limit)
    return next_url, previous_url


# -- ordering and cursors ------------------------------------------------------------------


# Lookups that are never true for NULL: a row passing one of them at the top level of the
# WHERE clause cannot have NULL in that column.
_NULL_REJECTING_LOOKUPS = frozenset({"exact", "gt", "gte", "lt", "lte", "range", "in"})


def _null_rejecting(node: Any, table: str | None, found: set[str]) -> None:
    """Collect the columns of ``table`` that the AND-ed top of ``node`` forbids to be NULL."""
    if isinstance(node, WhereNode):
        if node.negated or (node.connector != "AND" and len(node.children) > 1):
            return
        for child in node.children:
            _null_rejecting(child, table, found)
        return
    if not isinstance(node, Lookup):
        return
    column = node.lhs
    if not isinstance(column, Col) or column.alias != table:
        return
    if isinstance(node, IsNull):
        if node.rhs is False:
            found.add(column.target.name)
    elif node.lookup_name in _NULL_REJECTING_LOOKUPS and node.rhs is not None:
        found.add(column.target.name)


def never_null(queryset: QuerySet, names: Sequence[str]) -> frozenset[str]:
    """Which of the fields ``names`` cannot be NULL in any row of ``queryset``.

    A field is never NULL when its column is ``NOT NULL`` or when the query's top-level
    conditions exclude NULL (frame lists filter ``observation_date IS NOT NULL``). Ordering by
    such a field needs no ``NULLS FIRST/LAST`` clause, and without one the database can walk
    a plain index in either direction.
    """
    query = queryset.query
    found: set[str] = set()
    _null_rejecting(query.where, query.base_table, found)
    meta = queryset.model._meta
    result = set()
    for name in names:
        try:
            nullable = getattr(meta.get_field(name), "null", True)
        except FieldDoesNotExist:  # an annotation or a related path: assume it may be NULL
            nullable = True
        if not nullable or name in found:
            result.add(name)
    return frozenset(result)


def order_by(queryset: QuerySet, ordering: Sequence[tuple[str, bool]]) -> QuerySet:
    """Apply ``[(field, descending)]``; NULL sorts as the smallest value on every database.

    Fields that cannot be NULL in ``queryset`` (see :func:`never_null`) are ordered without a
    ``NULLS`` clause: PostgreSQL can use a ``(observation_date DESC, id DESC)`` index only
    for ``ORDER BY observation_date DESC, id DESC``, not for ``... DESC NULLS LAST`` (NULL
    placement is part of an index's order); the rows and their order are the same.
    """
    plain = never_null(queryset, [name for name, _ in ordering])
    expressions: list[OrderBy] = []
    for name, descending in ordering:
        if name in plain:
            expressions.append(F(name).desc() if descending else F(name).asc())
        elif descending:
            expressions.append(F(name).desc(nulls_last=True))
        else:
            expressions.append(F(name).asc(nulls_first=True))
    return queryset.order_by(*expressions)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "dt" in value and isinstance(value["dt"], str):
            parsed = parse_datetime(value["dt"])
            if parsed is None:
                raise ValueError("bad datetime")
            return parsed
        if "d" in value and isinstance(value["d"], str):
            parsed_date = parse_date(value["d"])
            if parsed_date is None:
                raise ValueError("bad date")
            return parsed_date
        raise ValueError("bad value")
    if value is None or isinstance(value, int | float | str):
        return value
    raise ValueError("bad value")


def encode_cursor(values: Sequence[Any], reverse: bool) -> str:
    payload = json.dumps({"v": [_encode_value(v) for v in values], "r": reverse})
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _typed(field: Any, value: Any) -> Any:
    """Check a cursor value against its model field so the query cannot fail on it."""
    if value is None:
        if not field.null:
            raise ValueError("NULL for a non-null field")
        return None
    if isinstance(value, bool):
        raise ValueError("booleans are not ordering values")
    if isinstance(field, models.DateTimeField):
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("expected an aware datetime")
        return value
    if isinstance(field, models.DateField):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ValueError("expected a date")
        return value
    if isinstance(field, models.IntegerField | models.AutoField):
        if not isinstance(value, int) or not -(2**63) <= value < 2**63:
            raise ValueError("expected a 64-bit integer")
        return value
    if isinstance(field, models.FloatField):
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError("expected a finite number")
        return float(value)
    if isinstance(field, models.CharField):
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError("expected text")
        return value
    raise ValueError(f"cannot order by {field!r}")


def decode_cursor(token: str, fields: Sequence[Any]) -> tuple[list[Any], bool]:
    """The ordering values and direction in a cursor; 404 ``Invalid cursor`` as DRF says.

    ``fields`` are the model fields of the ordering, used to check each value's type.
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        raw_values = payload["v"]
        reverse = payload["r"]
        if not isinstance(raw_values, list) or len(raw_values) != len(fields):
            raise ValueError("cursor does not match the ordering")
        if not isinstance(reverse, bool):
            raise ValueError("bad direction")
        values = [
            _typed(field, _decode_value(raw)) for field, raw in zip(fields, raw_values, strict=True)
        ]
    except (ValueError, KeyError, TypeError, UnicodeError, binascii.Error) as exc:
        raise NotFound("Invalid cursor") from exc
    return values, reverse


def _keyset(
    ordering: Sequence[tuple[str, bool]],
    values: Sequence[Any],
    *,
    after: bool,
    not_null: frozenset[str] = frozenset(),
) -> Q:
    """Rows strictly after (or before) ``values`` in ``ordering``, NULL being the smallest.

    The usual keyset expansion ``a > x OR (a = x AND b > y) OR ...``, with each comparison
    turned around for descending fields and NULLs placed where :func:`order_by` puts them.
    Fields in ``not_null`` cannot be NULL, so they need no ``IS NULL`` alternatives; when the
    first field is one of them, a redundant ``a >= x`` (or ``<=``) bound lets the database
    start its index scan at the cursor instead of filtering every row before it.
    """
    condition = Q(pk__in=[])  # an always-false seed that OR-ing drops
    equal_so_far = Q()
    for (name, descending), value in zip(ordering, values, strict=True):
        larger = descending != after  # does "later" mean a larger value for this field?
        if value is None:
            # Nothing is smaller than NULL; every non-NULL value is larger.
            step = Q(**{f"{name}__isnull": False}) if larger else None
        elif larger:
            step = Q(**{f"{name}__gt": value})
        elif name in not_null:
            step = Q(**{f"{name}__lt": value})
        else:
            step = Q(**{f"{name}__lt": value}) | Q(**{f"{name}__isnull": True})
        if step is not None:
            condition |= equal_so_far & step
        equal_so_far &= Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})
    if ordering and values and values[0] is not None and ordering[0][0] in not_null:
        first, descending = ordering[0]
        larger = descending != after
        condition = Q(**{f"{first}__{'gte' if larger else 'lte'}": values[0]}) & condition
    return condition


@dataclass(frozen=True)
class CursorPage:
    rows: list[Any]
    next_cursor: str | None
    previous_cursor: str | None


def cursor_page(
    queryset: QuerySet,
    ordering: Sequence[tuple[str, bool]],
    *,
    limit: int,
    token: str | None,
    fetch: Callable[[QuerySet], list[Any]] | None = None,
) -> CursorPage:
    """One page of ``queryset`` after (or before) the cursor ``token``."""
    names = [name for name, _ in ordering]
    reverse = False
    if token:
        fields = [queryset.model._meta.get_field(name) for name in names]
        values, reverse = decode_cursor(token, fields)
        plain = never_null(queryset, names)
        if reverse:
            flipped = [(name, not descending) for name, descending in ordering]
            before = _keyset(ordering, values, after=False, not_null=plain)
            queryset = order_by(queryset.filter(before), flipped)
        else:
            later = _keyset(ordering, values, after=True, not_null=plain)
            queryset = order_by(queryset.filter(later), ordering)
    else:
        queryset = order_by(queryset, ordering)
    load = fetch or list
    rows = load(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    if reverse:
        rows.reverse()

    def key_of(row: Any) -> list[Any]:
        return [getattr(row, name) for name in names]

    if reverse:
        next_cursor = encode_cursor(key_of(rows[-1]), False) if rows else None
        previous_cursor = encode_cursor(key_of(rows[0]), True) if rows and has_more else None
    else:
        next_cursor = encode_cursor(key_of(rows[-1]), False) if rows and has_more else None
        previous_cursor = encode_cursor(key_of(rows[0]), True) if rows and token else None
    return CursorPage(rows=rows, next_cursor=next_cursor, previous_cursor=previous_cursor)
