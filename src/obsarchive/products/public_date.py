"""When a frame becomes public: the OCS rules as a pure function, and the portal lookup.

:func:`public_date` is pure: everything it depends on is an argument (the policy, the headers,
the basename and, optionally, the proposal's tags). The Observation Portal lookup that supplies
those tags lives in :class:`ObservationPortal`, a separate object the caller creates once and
injects, so the rules stay testable without a network and the network stays out of the rules.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import requests

from obsarchive.config import HeaderKeys, PublicDatePolicy
from obsarchive.products.errors import (
    InvalidHeaderError,
    MissingHeadersError,
    ProductConfigurationError,
)

__all__ = [
    "PRIVATE_DAYS",
    "ObservationPortal",
    "ProposalLookupUnavailableError",
    "parse_observation_date",
    "public_date",
]

logger = logging.getLogger(__name__)

# "Private" means never public in practice: 999 years of 365 days, exactly as upstream.
PRIVATE_DAYS = 999 * 365


class ProposalLookupUnavailableError(Exception):
    """The Observation Portal could not be reached (refused, DNS, timeout): retry later.

    Deliberately *not* a :class:`~obsarchive.products.errors.ProductError`: the product is
    fine, the network is not, so the ingester maps this to a back-off retry.
    """


def parse_observation_date(value: Any) -> dt.datetime:
    """Parse a ``DATE-OBS`` value (ISO 8601 text, a ``datetime`` or a ``date``).

    The result keeps the value's timezone, or has none when the text has none, because
    upstream prints computed public dates with exactly that offset (or without one).

    Raises
    ------
    ValueError
        The value is not an ISO 8601 date or date-time.
    """
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 date, got {value!r}")
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"expected an ISO 8601 date, got {value!r}") from None


def _shifted(date_obs: Any, days: int, basename: str, keys: HeaderKeys) -> str:
    if date_obs is None or date_obs == "":
        raise MissingHeadersError(
            basename,
            f"{keys.observation_date} is missing, so the public date cannot be computed",
        )
    try:
        start = parse_observation_date(date_obs)
    except ValueError as exc:
        raise InvalidHeaderError(basename, f"{keys.observation_date}: {exc}") from exc
    try:
        return (start + dt.timedelta(days=days)).isoformat()
    except OverflowError as exc:
        raise InvalidHeaderError(
            basename, f"{keys.observation_date} {date_obs!r} is too far in the future"
        ) from exc


def _verbatim(date_obs: Any) -> str | None:
    if date_obs is None:
        return None
    return date_obs if isinstance(date_obs, str) else str(date_obs)


def public_date(
    policy: PublicDatePolicy,
    headers: Mapping[str, Any],
    basename: str,
    proposal_tags: Sequence[str] | None = None,
    *,
    keys: HeaderKeys | None = None,
) -> str | None:
    """The public date of a frame, by the OCS rules.

    1. A set ``L1PUBDAT`` is kept unchanged.
    2. With proposal tags: a private tag (``private``, ``internal``) makes the frame private
       (``DATE-OBS`` + 999 x 365 days), else a public tag (``public``) makes it public at once
       (``DATE-OBS`` verbatim).
    3. Otherwise: a calibration ``OBSTYPE`` (exact match) or a public proposal (substring of
       ``PROPID``) is public at once; a private proposal (substring) or a private file type
       (substring of the basename, e.g. ``-t00``) is private; everything else is proprietary
       for ``days_until_public`` days.

    Computed dates are written with :meth:`datetime.isoformat`, so they keep ``DATE-OBS``'s
    timezone (or lack of one) and print microseconds only when there are some, as upstream.

    Parameters
    ----------
    policy : PublicDatePolicy
        The configured lists and periods.
    headers : Mapping
        The frame's headers (raw values, before null normalisation, as upstream).
    basename : str
        The frame's basename, for the private-file-type rule (and error messages).
    proposal_tags : sequence of str, optional
        The proposal's tags from the Observation Portal; ``None`` when there are none.
    keys : HeaderKeys, optional
        Which keywords hold DATE-OBS, PROPID, OBSTYPE and L1PUBDAT.

    Returns
    -------
    str or None
        The public date; ``None`` only when the frame is public at once and has no DATE-OBS.

    Raises
    ------
    MissingHeadersError
        A date must be computed and ``DATE-OBS`` is missing.
    InvalidHeaderError
        A date must be computed and ``DATE-OBS`` is not an ISO 8601 date.
    """
    keys = keys or HeaderKeys()
    existing = headers.get(keys.public_date)
    if existing:
        return existing if isinstance(existing, str) else str(existing)
    date_obs = headers.get(keys.observation_date)

    if proposal_tags is not None:
        tags = set(proposal_tags)
        if tags.intersection(policy.private_proposal_tags):
            return _shifted(date_obs, PRIVATE_DAYS, basename, keys)
        if tags.intersection(policy.public_proposal_tags):
            return _verbatim(date_obs)

    configuration_type = headers.get(keys.configuration_type)
    raw_proposal = headers.get(keys.proposal_id)
    proposal = str(raw_proposal) if raw_proposal else ""
    if configuration_type in policy.calibration_types or (
        proposal and any(fragment in proposal for fragment in policy.public_proposals)
    ):
        return _verbatim(date_obs)
    if any(fragment in proposal for fragment in policy.private_proposals) or any(
        fragment in basename for fragment in policy.private_file_types
    ):
        return _shifted(date_obs, PRIVATE_DAYS, basename, keys)
    return _shifted(date_obs, policy.days_until_public, basename, keys)


class ObservationPortal:
    """Looks up a proposal's tags in the Observation Portal (``GET /api/proposals/{id}``).

    Create one per process and pass it (it is callable) as ``proposal_tags=`` to
    :func:`obsarchive.products.open_product`; it reuses one HTTP session.

    Parameters
    ----------
    base_url : str
        The portal root, e.g. ``https://observe.lco.global/``.
    api_token : str
        Sent as ``Authorization: Token <api_token>``.
    timeout : float
        Connect and read timeout in seconds; every request has one.
    session : requests.Session, optional
        An existing session (for connection pooling or tests).
    """

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        timeout: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._token = api_token
        self._session = session if session is not None else requests.Session()

    @classmethod
    def from_policy(cls, policy: PublicDatePolicy) -> ObservationPortal | None:
        """The portal the policy configures, or ``None`` when it configures none."""
        url, token = policy.observation_portal_base_url, policy.observation_portal_api_token
        if url is None or token is None:
            return None
        return cls(url, token, timeout=policy.observation_portal_timeout)

    def proposal_url(self, proposal_id: str) -> str:
        """The proposal's URL; the id is percent-encoded so it cannot change the path."""
        return f"{self.base_url.rstrip('/')}/api/proposals/{quote(proposal_id, safe='')}"

    def proposal_tags(self, proposal_id: str) -> tuple[str, ...] | None:
        """The proposal's tags, or ``None`` when the portal has no usable answer.

        An HTTP error status (4xx/5xx) or a body without a ``tags`` list gives ``None``, so the
        environment rules apply, as upstream.

        Raises
        ------
        ProposalLookupUnavailableError
            Connection refused, DNS failure, timeout or a broken transfer (retry later).
        ProductConfigurationError
            The base URL is malformed.
        """
        if not proposal_id:
            return None
        url = self.proposal_url(proposal_id)
        try:
            response = self._session.get(
                url,
                headers={"Authorization": f"Token {self._token}"},
                timeout=self.timeout,
            )
        except (
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidURL,
        ) as exc:
            raise ProductConfigurationError(
                None, f"OBSERVATION_PORTAL_BASE_URL {self.base_url!r} is not a usable URL: {exc}"
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise ProposalLookupUnavailableError(
                f"the Observation Portal at {self.base_url} is unavailable: {exc}"
            ) from exc
        if response.status_code >= 400:
            logger.warning(
                "Observation Portal answered %s for proposal %s; using the environment rules",
                response.status_code,
                proposal_id,
            )
            return None
        try:
            body = response.json()
        except ValueError:
            logger.warning("Observation Portal sent a non-JSON body for proposal %s", proposal_id)
            return None
        tags = body.get("tags") if isinstance(body, dict) else None
        if not isinstance(tags, list):
            logger.warning("Observation Portal sent no tag list for proposal %s", proposal_id)
            return None
        return tuple(str(tag) for tag in tags)

    __call__ = proposal_tags

    def close(self) -> None:
        """Release the HTTP session's connections."""
        self._session.close()
