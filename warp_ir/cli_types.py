"""The command line's option types: values checked as they are parsed, each mistake said in one line."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from common.errors import WarpIRError
from extraction.record import TARGETS


class UsageError(WarpIRError):
    """A user mistake the command line itself finds: reported in one line, exit status 2."""


def csv_type(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def names_type(value: str) -> list[str]:
    names = csv_type(value)
    if not names:
        raise argparse.ArgumentTypeError(f"needs at least one name, got {shown(value)}")
    return names


def unseen_templates_type(value: str) -> tuple[str, ...]:
    """``a/b,c/d`` or ``none`` (an empty tuple: no unseen split); whether each is a template is checked later."""
    if value.strip().lower() == "none":
        return ()
    names = csv_type(value)
    if not names:
        raise argparse.ArgumentTypeError(f"needs template names (family/name) or 'none', got {shown(value)}")
    return tuple(names)


def targets_type(value: str) -> list[str]:
    targets = csv_type(value)
    bad = [t for t in targets if t not in TARGETS]
    if bad or not targets:
        raise argparse.ArgumentTypeError(f"targets must be among {','.join(TARGETS)}, got {shown(value)}")
    return targets


MAX_SHOWN = 40  # characters of a value an error message shows; a longer one is described ("a 5,001-digit number")


MAX_DIGITS = 20  # digits of a whole-number option (seeds included: 20 digits hold any 64-bit seed)


def shown(value: str) -> str:
    """``value`` as an error message shows it: quoted when short, described when long (never echoed whole)."""
    if len(value) <= MAX_SHOWN:
        return repr(value)
    digits = value.strip().lstrip("+-").replace("_", "")
    if digits.isdigit():
        return f"a {len(digits):,}-digit number"
    return f"{value[:MAX_SHOWN - 10]!r}... ({len(value):,} characters)"


def whole_number(value: str, least: int | None = None, most: int | None = None, why: str = "") -> int:
    """``value`` as a whole number from ``least`` to ``most``; the error says which bound, and shows ``value`` short.

    Numbers of more than :data:`MAX_DIGITS` digits are refused before ``int`` sees them (Python refuses
    more than 4,300 digits, with a message that would not help).
    """
    digits = value.strip().lstrip("+-").replace("_", "")
    negative = value.strip().startswith("-")
    if digits.isdigit() and len(digits) > MAX_DIGITS:
        if most is not None and not negative:
            raise argparse.ArgumentTypeError(f"must be at most {most:,}{why}, got {shown(value)}")
        raise argparse.ArgumentTypeError(f"must be a whole number of at most {MAX_DIGITS} digits, got {shown(value)}")
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {shown(value)}") from None
    if least is not None and n < least:
        raise argparse.ArgumentTypeError(f"must be at least {least:,}, got {shown(value)}")
    if most is not None and n > most:
        raise argparse.ArgumentTypeError(f"must be at most {most:,}{why}, got {shown(value)}")
    return n


def positive_type(value: str) -> int:
    return whole_number(value, least=1)


def count_type(value: str) -> int:
    return whole_number(value, least=0)


def integer_type(value: str) -> int:
    return whole_number(value)


def num_samples_type(value: str) -> int:
    from generator.planning.plan import MAX_NUM_SAMPLES, PLAN_BYTES_PER_PROGRAM  # noqa: PLC0415 - keeps --help fast

    memory = MAX_NUM_SAMPLES * PLAN_BYTES_PER_PROGRAM / 1e12
    return whole_number(value, least=1, most=MAX_NUM_SAMPLES,
                  why=f" (a plan of more would hold over {memory:,.0f} TB in memory)")


def ratios_type(value: str) -> dict[str, float]:
    try:
        parts = [float(x) for x in csv_type(value)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes three numbers train,validation,test, got {shown(value)}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"takes three numbers train,validation,test, got {shown(value)}")
    if not all(math.isfinite(x) and x >= 0 for x in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise argparse.ArgumentTypeError(f"must be three non-negative numbers that sum to 1, got {shown(value)}")
    return dict(zip(("train", "validation", "test"), parts))


def twin_threshold_type(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.5 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0.5 to 1, got {shown(value)}")
    return number


def folder_type(value: str) -> Path:
    if not value.strip():
        raise argparse.ArgumentTypeError("needs a folder name, got an empty string")
    return Path(value)


def output_type(value: str) -> Path | str:
    """A folder, or an fsspec URL (``s3://...``) kept as it is."""
    return value if "://" in value else folder_type(value)


def ks_type(value: str) -> list[int]:
    ks = [positive_type(k) for k in csv_type(value)]
    if not ks:
        raise argparse.ArgumentTypeError(f"needs at least one k, got {shown(value)}")
    return sorted(set(ks))


def views_type(value: str) -> list[str]:
    kinds = names_type(value)
    if any(k != "chat" for k in kinds):
        raise argparse.ArgumentTypeError(f"the only view is chat, got {shown(value)}")
    return kinds


def seconds_type(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {shown(value)}")
    return seconds
