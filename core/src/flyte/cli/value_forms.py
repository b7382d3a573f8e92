"""How a command-line string reads as a duration, a datetime, a date or a boolean.

The forms are those the official Flyte 2 CLI accepts (so command lines copied from it work),
plus the short forms this CLI has always accepted:

* durations: ISO 8601 (``PT5M``, ``P1DT2H``, ``PT1.5S``, ``P2W``), seconds (``30``), a number
  with a unit (``500ms``, ``30s``, ``5m``, ``2h``, ``1d``, ``1h30m``, ``10 days``, ``1 minute``),
  clock forms (``1:24`` is 1 min 24 s, ``:45``, ``1:02:03``) and parts joined by ``|`` (summed);
* datetimes: ISO 8601 (``2026-01-31``, ``2026-01-31T12:00:00``, ``2026-01-31 12:00:00+02:00``),
  ``now``, ``today``, and any of them plus or minus a duration (``now - P1D``, ``today + 6h``);
* booleans: ``true/false``, ``yes/no``, ``y/n``, ``on/off``, ``t/f``, ``1/0`` (any case).
"""

from __future__ import annotations

import datetime as dt
import re

# patterns as strings: ``re`` compiles (and caches) them on first use, not when `flyte run` starts
_ISO_DURATION = (
    r"(?i)^(?P<sign>[-+])?P(?!$)(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_UNITS = {
    "ms": 0.001, "msec": 0.001, "msecs": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}
_UNIT_PART = r"(\d+(?:\.\d+)?)\s*([a-z]+)"
_CLOCK = r"^(?:(\d+):)?(\d*):(\d+(?:\.\d+)?)$|^(\d+):(\d+(?:\.\d+)?)$"
DURATION_HINT = "e.g. 30, 30s, 5m, 1h30m, PT5M, P1DT2H, 1:24"
DATETIME_HINT = "e.g. 2026-01-31, 2026-01-31T12:00:00, now, today, now - P1D"
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _one_duration(s: str) -> dt.timedelta | None:
    m = re.match(_ISO_DURATION, s)
    if m:
        parts = {k: float(v) for k, v in m.groupdict().items() if k != "sign" and v}
        td = dt.timedelta(**parts)
        return -td if m.group("sign") == "-" else td
    try:
        return dt.timedelta(seconds=float(s))
    except ValueError:
        pass
    m = re.match(_CLOCK, s)
    if m:
        if m.group(4) is not None:  # m:ss, as the official CLI reads 1:24
            return dt.timedelta(minutes=int(m.group(4)), seconds=float(m.group(5)))
        hours = int(m.group(1)) if m.group(1) else 0
        return dt.timedelta(hours=hours, minutes=int(m.group(2) or 0), seconds=float(m.group(3)))
    pos = 0
    total = 0.0
    compact = s.lower()
    for um in re.finditer(_UNIT_PART, compact):
        if compact[pos : um.start()].strip(" ,") or um.group(2) not in _UNITS:
            return None
        total += float(um.group(1)) * _UNITS[um.group(2)]
        pos = um.end()
    if pos == 0 or compact[pos:].strip():
        return None
    return dt.timedelta(seconds=total)


def parse_duration(value: object, where: str = "value") -> dt.timedelta:
    """A ``timedelta`` from any duration form above; ``ValueError`` naming ``where`` otherwise."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    s = str(value).strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    total = dt.timedelta()
    for part in s.split("|"):
        td = _one_duration(part.strip()) if part.strip() else None
        if td is None:
            raise ValueError(f"{where}: {value!r} is not a duration ({DURATION_HINT})")
        total += td
    return total


def format_duration(td: dt.timedelta) -> str:
    """``td`` in ISO 8601 (``PT5M``, ``P1DT2H``), a form :func:`parse_duration` reads back."""
    if td < dt.timedelta():
        return "-" + format_duration(-td)
    days = td.days
    secs = td.seconds + td.microseconds / 1e6
    hours, rest = divmod(secs, 3600)
    minutes, seconds = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    clock = "".join(f"{int(v)}{u}" for v, u in ((hours, "H"), (minutes, "M")) if v)
    if seconds:
        clock += f"{seconds:g}S"
    if clock:
        out += "T" + clock
    return out if out != "P" else "PT0S"


_SHIFT = r"^(.+?)\s+([-+])\s+(.+)$"


def parse_datetime(value: object, where: str = "value") -> dt.datetime:
    """A ``datetime`` from any datetime form above; ``ValueError`` naming ``where`` otherwise.

    ``now`` is the current instant (UTC-aware); ``today`` is midnight of today's date.
    """
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.min)
    s = str(value).strip()
    m = re.match(_SHIFT, s)
    if m:
        base = _base_datetime(m.group(1).strip(), value, where)
        try:
            delta = parse_duration(m.group(3), where)
        except ValueError:
            raise ValueError(
                f"{where}: {value!r}: {m.group(3)!r} is not a duration ({DURATION_HINT})"
            ) from None
        return base - delta if m.group(2) == "-" else base + delta
    return _base_datetime(s, value, where)


def _base_datetime(s: str, value: object, where: str) -> dt.datetime:
    low = s.lower()
    if low == "now":
        return dt.datetime.now(dt.UTC)
    if low == "today":
        return dt.datetime.combine(dt.date.today(), dt.time.min)
    try:
        return dt.datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a datetime ({DATETIME_HINT})") from None


def parse_bool(value: object, where: str = "value") -> bool:
    """``True``/``False`` from the boolean forms above; ``ValueError`` naming ``where`` otherwise."""
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f"{where}: {value!r} is not a boolean (true/false, yes/no, on/off, 1/0)")


__all__ = ["format_duration", "parse_bool", "parse_datetime", "parse_duration"]
