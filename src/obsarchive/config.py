"""Typed configuration, parsed once from the environment into frozen objects.

The OCS variable names are kept (``FILESTORE_TYPE``, ``BUCKET``, ``S3_ENDPOINT_URL``,
``REQUIRED_HEADERS``, the ``*_KEY`` header mapping, ...) so an operator can switch from the
upstream stack without renaming anything. Nothing here reads ``os.environ`` at import time:
call :func:`load_settings` at the edge of a process and pass the result in.

With no environment at all, everything works on embedded defaults under ``OBSARCHIVE_HOME``
(``./var`` by default): a filesystem store, SQLite databases and an embedded queue.
"""

from __future__ import annotations

import ast
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

__all__ = [
    "ConfigurationError",
    "EnvReader",
    "FlowSettings",
    "HeaderKeys",
    "IngesterSettings",
    "ProductSettings",
    "PublicDatePolicy",
    "Settings",
    "StoreSettings",
    "load_settings",
]


_T = TypeVar("_T")


class ConfigurationError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        self.problem = problem
        super().__init__(f"{variable}: {problem}")


# ---------------------------------------------------------------------------------------------
# Parsing helpers (the OCS list syntax: strip commas at both ends, drop spaces, split on commas)


def parse_list(value: str) -> tuple[str, ...]:
    """Parse an OCS comma list; unlike upstream, an empty value is ``()``, not ``('',)``."""
    cleaned = value.replace(" ", "").strip(",")
    return tuple(item for item in cleaned.split(",") if item) if cleaned else ()


class EnvReader:
    """Reads typed values from one environment mapping, naming the variable on failure.

    Every part of obsarchive that reads the environment (the Django apps included) uses this,
    so a bad value always fails the same way: a :class:`ConfigurationError` naming the variable.
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str) -> str:
        """The raw value, ``default`` when unset."""
        return self._environ.get(name, default)

    def optional(self, name: str) -> str | None:
        """The raw value, None when unset."""
        return self._environ.get(name)

    def stripped(self, name: str, default: str) -> str:
        """The value without surrounding spaces; ``default`` when unset or empty."""
        return (self._environ.get(name) or default).strip()

    def url(self, name: str) -> str | None:
        """An ``http(s)://`` URL, stripped; None when unset or blank."""
        value = (self._environ.get(name) or "").strip()
        return _validate_url(name, value) if value else None

    def csv(self, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """An OCS comma list (:func:`parse_list`); ``default`` when unset."""
        raw = self._environ.get(name)
        return default if raw is None else parse_list(raw)

    def integer(self, name: str, default: int, minimum: int | None = None) -> int:
        """An integer of at least ``minimum``; ``default`` when unset or blank."""
        value = self._converted(name, default, int, "an integer")
        if minimum is not None and value < minimum:
            raise ConfigurationError(name, f"must be at least {minimum}, got {value}")
        return value

    def number(self, name: str, default: float, minimum: float = 0.0) -> float:
        """A finite number of at least ``minimum``; ``default`` when unset or blank."""
        value = self._finite(name, default)
        if value < minimum:
            raise ConfigurationError(name, f"must be at least {minimum}, got {value}")
        return value

    def positive(self, name: str, default: float) -> float:
        """A finite number above zero (a timeout, a period); ``default`` when unset or blank."""
        value = self._finite(name, default)
        if value <= 0:
            raise ConfigurationError(name, f"must be positive, got {value}")
        return value

    def _finite(self, name: str, default: float) -> float:
        value = self._converted(name, default, float, "a number")
        # NaN passes every comparison and inf is no timeout at all: neither is a setting.
        if not math.isfinite(value):
            raise ConfigurationError(name, f"expected a finite number, got {value}")
        return value

    def _converted(self, name: str, default: _T, convert: Callable[[str], _T], what: str) -> _T:
        """``convert`` of the stripped value; ``default`` when unset or blank."""
        raw = self._environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            return convert(raw.strip())
        except ValueError:
            raise ConfigurationError(name, f"expected {what}, got {raw!r}") from None

    def flag(self, name: str, default: bool) -> bool:
        """``1/true/yes/on`` or ``0/false/no/off``; ``default`` when unset or blank."""
        raw = self._environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigurationError(name, f"expected true or false, got {raw!r}")

    def choice(
        self,
        name: str,
        default: str,
        choices: tuple[str, ...],
        *,
        ignore_case: bool = False,
        empty_is_default: bool = False,
    ) -> str:
        """One of ``choices`` (stripped; lower-cased with ``ignore_case``).

        An empty value is refused unless ``empty_is_default``: an operator who blanks
        ``FILESTORE_TYPE`` should not silently get the local store.
        """
        raw = self._environ.get(name, default)
        value = ((raw or default) if empty_is_default else raw).strip()
        if ignore_case:
            value = value.lower()
        if value not in choices:
            raise ConfigurationError(name, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def mapping(self, name: str) -> dict[str, str]:
        """A Python dict literal of strings to strings; ``{}`` when unset or blank."""
        raw = self._environ.get(name)
        if raw is None or raw.strip() == "":
            return {}
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            raise ConfigurationError(name, f"expected a dict literal, got {raw!r}") from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigurationError(name, "expected a dict of strings to strings")
        return value


# ---------------------------------------------------------------------------------------------
# Settings objects


@dataclass(frozen=True)
class HeaderKeys:
    """Which FITS header keyword feeds each archive field (the OCS ``*_KEY`` variables)."""

    observation_date: str = "DATE-OBS"
    observation_day: str = "DAY-OBS"
    observation_end_time: str = "UTSTOP"
    reduction_level: str = "RLEVEL"
    exposure_time: str = "EXPTIME"
    instrument_id: str = "INSTRUME"
    site_id: str = "SITEID"
    telescope_id: str = "TELID"
    observation_id: str = "BLKUID"
    configuration_id: str = "MOLUID"
    primary_optical_element: str = "FILTER"
    target_name: str = "OBJECT"
    request_id: str = "REQNUM"
    requestgroup_id: str = "TRACKNUM"
    configuration_type: str = "OBSTYPE"
    proposal_id: str = "PROPID"
    catalog_target_frame: str = "L1IDCAT"
    public_date: str = "L1PUBDAT"
    thumbnail_frame_basename: str = "frame_basename"
    thumbnail_size: str = "size"
    radius: str = "RADIUS"
    ra: str = "RA"
    dec: str = "DEC"

    @property
    def integer_types(self) -> tuple[str, ...]:
        """Keys whose null values become ``None`` rather than ``''`` (upstream INTEGER_TYPES)."""
        return (self.request_id, self.requestgroup_id, self.observation_id, self.configuration_id)


# Environment variable for each HeaderKeys field.
_HEADER_KEY_VARIABLES: dict[str, str] = {
    "observation_date": "OBSERVATION_DATE_KEY",
    "observation_day": "OBSERVATION_DAY_KEY",
    "observation_end_time": "OBSERVATION_END_TIME_KEY",
    "reduction_level": "REDUCTION_LEVEL_KEY",
    "exposure_time": "EXPOSURE_TIME_KEY",
    "instrument_id": "INSTRUMENT_ID_KEY",
    "site_id": "SITE_ID_KEY",
    "telescope_id": "TELESCOPE_ID_KEY",
    "observation_id": "OBSERVATION_ID_KEY",
    "configuration_id": "CONFIGURATION_ID_KEY",
    "primary_optical_element": "PRIMARY_OPTICAL_ELEMENT_KEY",
    "target_name": "TARGET_NAME_KEY",
    "request_id": "REQUEST_ID_KEY",
    "requestgroup_id": "REQUESTGROUP_ID_KEY",
    "configuration_type": "CONFIGURATION_TYPE_KEY",
    "proposal_id": "PROPOSAL_ID_KEY",
    "catalog_target_frame": "CATALOG_TARGET_FRAME_KEY",
    "public_date": "PUBLIC_DATE_KEY",
    "thumbnail_frame_basename": "THUMBNAIL_FRAME_BASENAME_KEY",
    "thumbnail_size": "THUMBNAIL_SIZE_KEY",
    "radius": "RADIUS_KEY",
    "ra": "RA_KEY",
    "dec": "DEC_KEY",
}

DEFAULT_RELATED_FRAME_KEYS: tuple[str, ...] = (
    "L1IDBIAS", "L1IDDARK", "L1IDFLAT", "L1IDSHUT", "L1IDMASK", "L1IDFRNG", "L1IDCAT",
    "L1IDARC", "L1ID1D", "L1ID2D", "L1IDSUM", "TARFILE", "ORIGNAME", "ARCFILE", "FLATFILE",
    "GUIDETAR",
)  # fmt: skip


@dataclass(frozen=True)
class PublicDatePolicy:
    """Inputs of the OCS public-date rules (upstream ``_repair_public_date``)."""

    public_proposals: tuple[str, ...] = ("EPO", "calib", "standard", "pointing")
    private_proposals: tuple[str, ...] = ("LCOEngineering",)
    private_file_types: tuple[str, ...] = ("-t00", "-x00")
    calibration_types: tuple[str, ...] = ("BIAS", "DARK", "SKYFLAT", "EXPERIMENTAL")
    private_proposal_tags: tuple[str, ...] = ("private", "internal")
    public_proposal_tags: tuple[str, ...] = ("public",)
    days_until_public: int = 365
    observation_portal_base_url: str | None = None
    observation_portal_api_token: str | None = None
    observation_portal_timeout: float = 10.0

    @property
    def uses_observation_portal(self) -> bool:
        return (
            self.observation_portal_base_url is not None
            and self.observation_portal_api_token is not None
        )


@dataclass(frozen=True)
class ProductSettings:
    """How products are read, validated and normalised."""

    keys: HeaderKeys = field(default_factory=HeaderKeys)
    required_headers: tuple[str, ...] = (
        "PROPID", "DATE-OBS", "DAY-OBS", "INSTRUME", "SITEID", "TELID", "OBSTYPE", "BLKUID",
    )  # fmt: skip
    required_thumbnail_metadata: tuple[str, ...] = (
        "frame_basename", "size", "DATE-OBS", "DAY-OBS", "INSTRUME", "SITEID", "TELID",
    )  # fmt: skip
    header_blacklist: tuple[str, ...] = ("HISTORY", "COMMENT")
    null_header_values: tuple[str, ...] = ("N/A", "UNSPECIFIED", "UNKNOWN")
    related_frame_keys: tuple[str, ...] = DEFAULT_RELATED_FRAME_KEYS
    filetype_mapping_overrides: Mapping[str, str] = field(default_factory=dict)
    public_date: PublicDatePolicy = field(default_factory=PublicDatePolicy)


FILESTORE_TYPES = ("local", "s3", "memory", "dummy")


@dataclass(frozen=True)
class StoreSettings:
    """Which object store holds the bytes, and how to reach it.

    ``filestore_type`` ``dummy`` is accepted for upstream compatibility but means the same as
    ``local``: obsarchive never silently discards data (see docs/compatibility.md).
    """

    filestore_type: str = "local"
    root_dir: Path = Path("var/store")
    base_url: str = "http://127.0.0.1:8000/"
    bucket: str = "obsarchive"
    s3_endpoint_url: str | None = None
    aws_region: str | None = None
    s3_addressing_style: str = "auto"
    s3_signature_version: str = "s3v4"
    s3_days_to_ia_storage: int = 60
    s3_multipart_threshold: int = 16 * 1024 * 1024
    s3_connect_timeout: float = 5.0
    s3_read_timeout: float = 60.0
    s3_max_attempts: int = 3


@dataclass(frozen=True)
class IngesterSettings:
    """How the ingester reaches the science archive."""

    api_root: str = "http://127.0.0.1:8000/"
    auth_token: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    # MAKE_PREVIEWS: render small/medium/large JPEG previews of image products after ingest.
    make_previews: bool = True


QUEUE_URL_SCHEMES = ("sqlite", "postgresql", "postgres", "amqp", "amqps")
LEDGER_URL_SCHEMES = ("sqlite", "postgresql", "postgres")


@dataclass(frozen=True)
class FlowSettings:
    """The durable ingestion flow: queue, ledger, retry policy, worker and watcher.

    The embedded default keeps the queue and the ledger in one SQLite file under
    ``OBSARCHIVE_HOME``; ``QUEUE_URL=amqp://...`` switches the queue to RabbitMQ and
    ``LEDGER_URL=postgresql://...`` the ledger to PostgreSQL.
    """

    queue_url: str = "sqlite:///var/queue.sqlite3"
    queue_name: str = "ingest"
    ledger_url: str = "sqlite:///var/queue.sqlite3"
    prefetch: int = 1
    lease_seconds: float = 120.0
    max_attempts: int = 8
    unexpected_max_attempts: int = 3
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    retry_delay: float = 30.0
    watch_settle_seconds: float = 2.0
    watch_interval_seconds: float = 1.0


@dataclass(frozen=True)
class Settings:
    """Everything obsarchive's library and ingester are configured with."""

    home: Path = Path("var")
    products: ProductSettings = field(default_factory=ProductSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    ingester: IngesterSettings = field(default_factory=IngesterSettings)
    flow: FlowSettings = field(default_factory=FlowSettings)


def _validate_url(name: str, value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ConfigurationError(name, f"expected an http:// or https:// URL, got {value!r}")
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse the environment (``os.environ`` by default) into :class:`Settings`.

    Raises
    ------
    ConfigurationError
        A value is malformed; the message names the variable.
    """
    env = EnvReader(os.environ if environ is None else environ)
    home = Path(env.text("OBSARCHIVE_HOME", "var"))

    keys = HeaderKeys(
        **{
            attr: env.text(variable, getattr(HeaderKeys, attr))
            for attr, variable in _HEADER_KEY_VARIABLES.items()
        }
    )
    portal_url = env.optional("OBSERVATION_PORTAL_BASE_URL")
    if portal_url is not None:
        _validate_url("OBSERVATION_PORTAL_BASE_URL", portal_url)
    policy_defaults = PublicDatePolicy()
    policy = PublicDatePolicy(
        public_proposals=env.csv("PUBLIC_PROPOSALS", policy_defaults.public_proposals),
        private_proposals=env.csv("PRIVATE_PROPOSALS", policy_defaults.private_proposals),
        private_file_types=env.csv("PRIVATE_FILE_TYPES", policy_defaults.private_file_types),
        calibration_types=env.csv("CALIBRATION_TYPES", policy_defaults.calibration_types),
        private_proposal_tags=env.csv(
            "PRIVATE_PROPOSAL_TAGS", policy_defaults.private_proposal_tags
        ),
        public_proposal_tags=env.csv("PUBLIC_PROPOSAL_TAGS", policy_defaults.public_proposal_tags),
        days_until_public=env.integer("DAYS_UNTIL_PUBLIC", policy_defaults.days_until_public, 0),
        observation_portal_base_url=portal_url,
        observation_portal_api_token=env.optional("OBSERVATION_PORTAL_API_TOKEN"),
        observation_portal_timeout=env.number("OBSERVATION_PORTAL_TIMEOUT", 10.0, 0.1),
    )
    product_defaults = ProductSettings()
    products = ProductSettings(
        keys=keys,
        required_headers=env.csv("REQUIRED_HEADERS", product_defaults.required_headers),
        required_thumbnail_metadata=env.csv(
            "REQUIRED_THUMBNAIL_METADATA", product_defaults.required_thumbnail_metadata
        ),
        header_blacklist=env.csv("HEADER_BLACKLIST", product_defaults.header_blacklist),
        null_header_values=env.csv("NULL_HEADER_VALUES", product_defaults.null_header_values),
        related_frame_keys=env.csv("RELATED_FRAME_KEYS", product_defaults.related_frame_keys),
        filetype_mapping_overrides=env.mapping("FILETYPE_MAPPING_OVERRIDES"),
        public_date=policy,
    )

    store_type = env.choice("FILESTORE_TYPE", "local", FILESTORE_TYPES)
    root_raw = env.text("FILESYSTEM_STORAGE_ROOT_DIR", "")
    root_dir = Path(root_raw) if root_raw.strip() else home / "store"
    endpoint = env.optional("S3_ENDPOINT_URL") or None
    if endpoint is not None:
        _validate_url("S3_ENDPOINT_URL", endpoint)
    bucket = env.text("BUCKET", "obsarchive").strip()
    if store_type == "s3" and len(bucket) < 3:
        raise ConfigurationError("BUCKET", "an S3 bucket name needs at least 3 characters")
    store = StoreSettings(
        filestore_type=store_type,
        root_dir=root_dir,
        base_url=_validate_url(
            "FILESYSTEM_STORAGE_BASE_URL",
            env.text("FILESYSTEM_STORAGE_BASE_URL", "http://127.0.0.1:8000/"),
        ),
        bucket=bucket,
        s3_endpoint_url=endpoint,
        aws_region=env.optional("AWS_DEFAULT_REGION") or None,
        s3_addressing_style=env.choice("S3_ADDRESSING_STYLE", "auto", ("auto", "virtual", "path")),
        s3_signature_version=env.text("S3_SIGNATURE_VERSION", "s3v4"),
        s3_days_to_ia_storage=env.integer("S3_DAYS_TO_IA_STORAGE", 60, 0),
        s3_multipart_threshold=env.integer(
            "S3_MULTIPART_THRESHOLD", 16 * 1024 * 1024, 5 * 1024 * 1024
        ),
        s3_connect_timeout=env.number("S3_CONNECT_TIMEOUT", 5.0, 0.1),
        s3_read_timeout=env.number("S3_READ_TIMEOUT", 60.0, 0.1),
        s3_max_attempts=env.integer("S3_MAX_ATTEMPTS", 3, 1),
    )

    api_root = _validate_url("API_ROOT", env.text("API_ROOT", "http://127.0.0.1:8000/"))
    if not api_root.endswith("/"):
        api_root += "/"  # upstream concatenates paths onto API_ROOT; never lose a segment
    ingester = IngesterSettings(
        api_root=api_root,
        auth_token=env.text("AUTH_TOKEN", ""),
        connect_timeout=env.number("ARCHIVE_CONNECT_TIMEOUT", 5.0, 0.1),
        read_timeout=env.number("ARCHIVE_READ_TIMEOUT", 60.0, 0.1),
        make_previews=env.flag("MAKE_PREVIEWS", True),
    )
    flow = _load_flow(env, home)
    return Settings(home=home, products=products, store=store, ingester=ingester, flow=flow)


def _sqlite_url(path: Path) -> str:
    """``sqlite:///relative`` or ``sqlite:////absolute`` (the SQLAlchemy convention)."""
    return f"sqlite:///{path.as_posix()}"


def _validate_scheme(name: str, value: str, schemes: tuple[str, ...]) -> str:
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in schemes:
        raise ConfigurationError(
            name, f"expected a URL starting with one of {', '.join(schemes)}; got {value!r}"
        )
    return value


def _load_flow(env: EnvReader, home: Path) -> FlowSettings:
    defaults = FlowSettings()
    queue_url = _validate_scheme(
        "QUEUE_URL",
        env.text("QUEUE_URL", "").strip() or _sqlite_url(home / "queue.sqlite3"),
        QUEUE_URL_SCHEMES,
    )
    # The ledger shares the queue's database when the queue is a table queue, so one file (or
    # one PostgreSQL database) holds the whole state of the flow.
    queue_is_table = queue_url.split("://", 1)[0].lower() in LEDGER_URL_SCHEMES
    ledger_default = queue_url if queue_is_table else _sqlite_url(home / "ledger.sqlite3")
    ledger_url = _validate_scheme(
        "LEDGER_URL", env.text("LEDGER_URL", "").strip() or ledger_default, LEDGER_URL_SCHEMES
    )
    queue_name = env.text("QUEUE_NAME", defaults.queue_name).strip()
    if not queue_name:
        raise ConfigurationError("QUEUE_NAME", "must not be empty")
    return FlowSettings(
        queue_url=queue_url,
        queue_name=queue_name,
        ledger_url=ledger_url,
        prefetch=env.integer("QUEUE_PREFETCH", defaults.prefetch, 1),
        lease_seconds=env.number("QUEUE_LEASE_SECONDS", defaults.lease_seconds, 1.0),
        max_attempts=env.integer("INGEST_MAX_ATTEMPTS", defaults.max_attempts, 1),
        unexpected_max_attempts=env.integer(
            "INGEST_UNEXPECTED_MAX_ATTEMPTS", defaults.unexpected_max_attempts, 1
        ),
        backoff_base=env.number("INGEST_BACKOFF_BASE", defaults.backoff_base, 0.0),
        backoff_cap=env.number("INGEST_BACKOFF_CAP", defaults.backoff_cap, 0.0),
        retry_delay=env.number("INGEST_RETRY_DELAY", defaults.retry_delay, 0.0),
        watch_settle_seconds=env.number("WATCH_SETTLE_SECONDS", defaults.watch_settle_seconds, 0.0),
        watch_interval_seconds=env.number(
            "WATCH_INTERVAL_SECONDS", defaults.watch_interval_seconds, 0.05
        ),
    )
