"""Checks of single values in a booking request: emails, timezones, phone numbers, times, ids.

Each check is a pure function that returns the normalized value or raises `ValueError` whose text
says what is wrong and what to write instead; `autobook.requests` attaches the field's path and
turns it into a `FieldProblem`. No check does I/O or reads the clock: emails are checked for
syntax only (no DNS), timezones against the tz database `zoneinfo` ships with, phone numbers
against `phonenumbers`' metadata.

Email typo detection is deliberately conservative, because a false alarm blocks a real booking:
a small table of known misspellings, a rule for mistyped `.com`, and `difflib` closeness to a
popular mail provider, accepted only when the first letter matches, the domain is one edit away
(a transposition counts as one) and is not itself a known provider.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import phonenumbers
from email_validator import EmailNotValidError, validate_email

POPULAR_EMAIL_DOMAINS = (
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "icloud.com",
    "protonmail.com",
    "comcast.net",
    "verizon.net",
    "sbcglobal.net",
    "hotmail.co.uk",
    "yahoo.co.uk",
)
# Real providers that sit close to a popular one; never "correct" them.
KNOWN_REAL_EMAIL_DOMAINS = frozenset(
    {
        *POPULAR_EMAIL_DOMAINS,
        "aim.com",
        "aol.com",
        "email.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.it",
        "hotmail.es",
        "live.co.uk",
        "live.ca",
        "mac.com",
        "mail.com",
        "me.com",
        "msn.com",
        "proton.me",
        "yahoo.ca",
        "yahoo.fr",
        "yahoo.de",
        "ymail.com",
    }
)
COMMON_DOMAIN_TYPOS = {
    "gmial.com": "gmail.com",
    "gmai.com": "gmail.com",
    "gamil.com": "gmail.com",
    "gmaill.com": "gmail.com",
    "gmal.com": "gmail.com",
    "gnail.com": "gmail.com",
    "gmail.co": "gmail.com",
    "hotmial.com": "hotmail.com",
    "hotmal.com": "hotmail.com",
    "hotmai.com": "hotmail.com",
    "hotnail.com": "hotmail.com",
    "yahooo.com": "yahoo.com",
    "yaho.com": "yahoo.com",
    "yhoo.com": "yahoo.com",
    "outlok.com": "outlook.com",
    "outloo.com": "outlook.com",
    "iclod.com": "icloud.com",
    "icoud.com": "icloud.com",
}
# ".con" and friends are not top-level domains anyone uses: they are ".com" mistyped.
MISTYPED_COM_SUFFIXES = (".con", ".cmo", ".ocm", ".vom", ".xom", ".comm", ".cim")
MAX_DOMAIN_EDITS = 1
MIN_POPULAR_LABEL_CHARS = 5  # below this (aol, msn, me) every neighbour is a false alarm

TIMEZONE_EXAMPLE = "America/New_York"
CANONICAL_TIMEZONE_AREAS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Arctic/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)
ABBREVIATION_TIMEZONES = {
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "MST": "America/Denver",
    "MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "AKST": "America/Anchorage",
    "AKDT": "America/Anchorage",
    "HST": "Pacific/Honolulu",
    "BST": "Europe/London",
    "WET": "Europe/Lisbon",
    "CET": "Europe/Paris",
    "CEST": "Europe/Paris",
    "MET": "Europe/Paris",
    "EET": "Europe/Athens",
    "EEST": "Europe/Athens",
    "IST": "Asia/Kolkata",
    "SGT": "Asia/Singapore",
    "HKT": "Asia/Hong_Kong",
    "JST": "Asia/Tokyo",
    "KST": "Asia/Seoul",
    "AWST": "Australia/Perth",
    "ACST": "Australia/Adelaide",
    "AEST": "Australia/Sydney",
    "AEDT": "Australia/Sydney",
    "NZST": "Pacific/Auckland",
    "NZDT": "Pacific/Auckland",
}
_OFFSET_PATTERN = re.compile(r"^(UTC|GMT)?\s*[+-]\d{1,2}(:?\d{2})?$", re.IGNORECASE)

MAX_REQUEST_ID_CHARS = 255
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
PHONE_EXAMPLE = "+14155550100"
_PHONE_CHARACTERS = re.compile(r"^\+[\d\s().-]+$")


def check_email(value: str) -> str:
    """The address normalized (domain lower-cased), or ValueError saying what is wrong."""
    text = value.strip()
    if not text:
        raise ValueError("must not be empty: give an email address such as ada@example.com")
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"is not a valid email address: {exc}") from None


def _edit_distance(left: str, right: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, transpositions."""
    previous_row: list[int] = []
    row = list(range(len(right) + 1))
    for i in range(1, len(left) + 1):
        before, previous_row, row = previous_row, row, [i] + [0] * len(right)
        for j in range(1, len(right) + 1):
            cost = 0 if left[i - 1] == right[j - 1] else 1
            row[j] = min(previous_row[j] + 1, row[j - 1] + 1, previous_row[j - 1] + cost)
            if i > 1 and j > 1 and left[i - 1] == right[j - 2] and left[i - 2] == right[j - 1]:
                row[j] = min(row[j], before[j - 2] + 1)
    return row[len(right)]


def _likely_intended_domain(domain: str) -> str | None:
    if domain in KNOWN_REAL_EMAIL_DOMAINS:
        return None
    if domain in COMMON_DOMAIN_TYPOS:
        return COMMON_DOMAIN_TYPOS[domain]
    for suffix in MISTYPED_COM_SUFFIXES:
        if domain.endswith(suffix):
            repaired = domain.removesuffix(suffix) + ".com"
            return _likely_intended_domain(repaired) or repaired
    for candidate in difflib.get_close_matches(domain, POPULAR_EMAIL_DOMAINS, n=3, cutoff=0.75):
        label = candidate.split(".", 1)[0]
        if (
            len(label) >= MIN_POPULAR_LABEL_CHARS
            and candidate[0] == domain[0]
            and _edit_distance(domain, candidate) <= MAX_DOMAIN_EDITS
        ):
            return candidate
    return None


def email_typo_suggestion(email: str) -> str | None:
    """The address as probably meant (`ada@gmail.com` for `ada@gmial.com`), or None if fine."""
    local, _, domain = email.rpartition("@")
    if not local or not domain:
        return None
    intended = _likely_intended_domain(domain.lower())
    return f"{local}@{intended}" if intended else None


@lru_cache(maxsize=1)
def _timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def _timezone_names_by_folded_case() -> dict[str, str]:
    return {name.casefold(): name for name in _timezone_names()}


@lru_cache(maxsize=1)
def _canonical_timezone_names() -> list[str]:
    # Suggest current names (America/New_York), not the legacy links (US/Eastern).
    return sorted(name for name in _timezone_names() if name.startswith(CANONICAL_TIMEZONE_AREAS))


def check_timezone(value: str) -> str:
    """An IANA timezone name known to zoneinfo, or ValueError with a hint.

    Abbreviations (EST, PST, CET...) are refused even where zoneinfo knows them: "EST" is a fixed
    UTC-5 all year, which puts a New York meeting an hour off every summer. POSIX-style names such
    as EST5EDT are accepted because they do follow daylight saving time.
    """
    text = value.strip()
    if not text:
        raise ValueError(f"must not be empty: give an IANA timezone such as {TIMEZONE_EXAMPLE}")
    if text.upper() in ABBREVIATION_TIMEZONES:
        suggestion = ABBREVIATION_TIMEZONES[text.upper()]
        raise ValueError(
            f"{text!r} is an abbreviation, not an IANA timezone (it doesn't say when daylight "
            f"saving time applies): use a region name such as {suggestion}"
        )
    if _OFFSET_PATTERN.match(text):
        raise ValueError(
            f"{text!r} is a UTC offset, not a timezone (offsets change with daylight saving "
            f"time): use an IANA name such as {TIMEZONE_EXAMPLE}"
        )
    if text in _timezone_names():
        return text
    same_but_case = _timezone_names_by_folded_case().get(text.casefold())
    close = [same_but_case] if same_but_case else []
    close = close or difflib.get_close_matches(text, _canonical_timezone_names(), n=1, cutoff=0.8)
    hint = f"did you mean {close[0]}?" if close else f"use an IANA name such as {TIMEZONE_EXAMPLE}"
    raise ValueError(f"{text!r} is not a known IANA timezone: {hint}")


def check_phone_number(value: str) -> str:
    """The number in E.164 form (`+14155550100`), or ValueError saying how to write it."""
    text = value.strip()
    how = f"write it in E.164 form: + then the country code and number, e.g. {PHONE_EXAMPLE}"
    if not text.startswith("+"):
        raise ValueError(f"has no country code: {how}")
    if not _PHONE_CHARACTERS.match(text):
        raise ValueError(f"may hold only digits after the +: {how}")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValueError(f"is not a phone number: {how}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"is not a valid number for its country code: {how}")
    formatted: str = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return formatted


_FULL_WEEKDAY_NAMES = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}


@dataclass(frozen=True)
class HourRange:
    """Part of a day, `[start_minute, end_minute)` after midnight; an end of 1440 is midnight."""

    start_minute: int
    end_minute: int

    def contains(self, moment: time) -> bool:
        minute = moment.hour * 60 + moment.minute
        return self.start_minute <= minute < self.end_minute

    def __str__(self) -> str:
        return f"{_clock(self.start_minute)}-{_clock(self.end_minute)}"


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


_HOUR_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EXAMPLE_INSTANT = "2026-12-10T09:00:00Z"
_EVENT_TYPE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


def parse_hour_range(text: str) -> HourRange:
    """`"13:00-17:00"` as an HourRange, or ValueError saying how to write it."""
    how = 'write "HH:MM-HH:MM" in 24-hour time, e.g. "13:00-17:00"'
    match = _HOUR_RANGE.match(text.strip())
    if not match:
        raise ValueError(f"is not an hour range: {how}")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    if start_h > 23 or end_h > 24 or start_m > 59 or end_m > 59 or (end_h == 24 and end_m):
        raise ValueError(f"has a time that doesn't exist: {how} (24:00 may end a range)")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start >= end:
        raise ValueError(
            "must start before it ends; a range across midnight is two ranges, "
            'e.g. "22:00-24:00" and "00:00-02:00"'
        )
    return HourRange(start, end)


def normalize_hour_range(text: str) -> str:
    """`"9:00 - 17:00"` as `"09:00-17:00"`."""
    return str(parse_hour_range(text))


def normalize_weekday(value: object) -> object:
    """`"Wednesday"` or `"WED"` as `"wed"`; a non-string passes through for pydantic to refuse."""
    if not isinstance(value, str):
        return value  # pydantic reports the wrong type
    word = value.strip().lower()
    word = _FULL_WEEKDAY_NAMES.get(word, word)
    if word not in WEEKDAY_NAMES:
        raise ValueError(
            "is not a weekday: use mon, tue, wed, thu, fri, sat or sun (or full names like monday)"
        )
    return word


def non_blank(value: str) -> str:
    """The text without surrounding spaces; refuses an empty one."""
    text = value.strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def parse_day(value: object) -> object:
    """A `"YYYY-MM-DD"` string as a date (no other date spellings, no numbers)."""
    if not isinstance(value, str):
        raise ValueError('must be a date written "YYYY-MM-DD", e.g. "2026-12-01"')
    try:
        if not _DAY.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError('must be a date written "YYYY-MM-DD", e.g. "2026-12-01"') from None


def parse_instant(value: object) -> object:
    """ISO 8601 text with an offset or Z, as an aware UTC datetime."""
    how = f"write an ISO 8601 time with Z or an offset, e.g. {_EXAMPLE_INSTANT}"
    if not isinstance(value, str):
        raise ValueError(f"must be a string: {how}")
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"is not a time: {how}") from None
    if _DAY.match(text):
        raise ValueError(f"is a date without a time: {how}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"has no UTC offset, so the instant is ambiguous: {how}")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+14:00 is before the first representable instant
        raise ValueError(f"is out of range: {how}") from None


def check_request_id(value: str) -> str:
    """A non-empty, printable id of at most 255 characters with no whitespace."""
    if not value:
        raise ValueError("must not be empty: give the source's unique id for this request")
    if len(value) > MAX_REQUEST_ID_CHARS:
        raise ValueError(f"is {len(value)} characters long; at most {MAX_REQUEST_ID_CHARS}")
    if any(char.isspace() for char in value) or not value.isprintable():
        raise ValueError("must not contain spaces or control characters")
    return value


def check_event_type_uri(value: str) -> str:
    """An absolute http(s) URI ending in `/event_types/<id>` (Calendly's, or the sandbox's).

    The id is letters, digits, `-` and `_` (Calendly's are UUIDs): `..` or `%2e%2e` would make
    the URI name another resource once resolved. No query, fragment or credentials either.
    """
    parts = urlsplit(value.strip())
    segments = [segment for segment in parts.path.split("/") if segment]
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or len(segments) < 2
        or segments[-2] != "event_types"
        or not _EVENT_TYPE_ID.match(segments[-1])
    ):
        raise ValueError(
            "must be an event type URI such as https://api.calendly.com/event_types/<uuid>, "
            'or a selector such as {"name": "30 Minute Demo"} or {"slug": "demo"}'
        )
    return value.strip()
