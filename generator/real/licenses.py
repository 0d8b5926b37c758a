"""Licenses of mined code: read from a distribution's metadata, normalised to SPDX identifiers.

A distribution states its license in one of several places, most precise first:
``License-Expression`` (PEP 639, already SPDX), ``License`` (free text: an id, a name such
as ``"MIT License"``, or the whole license text), the ``License ::`` trove classifiers, and
the license file it ships. :func:`distribution_license` reads them in that order and gives
an SPDX expression, or ``None`` when none of them says anything usable.

Expressions are parsed and evaluated as SPDX defines them, by the ``license-expression`` library
(precedence, parentheses, ``WITH`` exceptions, SPDX's own license and exception lists). Only
permissive licenses are mined by default (:data:`PERMISSIVE`); :func:`is_allowed` also accepts the
identifiers a user allows explicitly (``--allow-license``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import Message
from typing import Any

from license_expression import ExpressionError, LicenseWithExceptionSymbol, get_spdx_licensing

PERMISSIVE: frozenset[str] = frozenset({
    "Apache-2.0", "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Zlib", "BSL-1.0", "Unlicense", "CC0-1.0",
    "PSF-2.0", "0BSD", "NCSA",
})
# Names people write in the License field (lower case, punctuation squeezed) -> SPDX.
_ALIASES = {
    "apache": "Apache-2.0", "apache 2": "Apache-2.0", "apache 2.0": "Apache-2.0", "apache-2": "Apache-2.0",
    "apache license 2.0": "Apache-2.0", "apache license, version 2.0": "Apache-2.0", "apache license version 2.0":
    "Apache-2.0", "apache software license": "Apache-2.0", "apache software license 2.0": "Apache-2.0",
    "apache license": "Apache-2.0", "asl 2.0": "Apache-2.0",
    "mit license": "MIT", "the mit license": "MIT", "mit licence": "MIT", "expat": "MIT",
    "bsd 3-clause": "BSD-3-Clause", "bsd-3": "BSD-3-Clause", "3-clause bsd": "BSD-3-Clause", "new bsd": "BSD-3-Clause",
    "bsd 3-clause license": "BSD-3-Clause", "modified bsd": "BSD-3-Clause", "revised bsd": "BSD-3-Clause",
    "bsd 2-clause": "BSD-2-Clause", "bsd-2": "BSD-2-Clause", "simplified bsd": "BSD-2-Clause",
    "bsd 2-clause license": "BSD-2-Clause", "freebsd": "BSD-2-Clause",
    "isc license": "ISC", "zlib license": "Zlib", "boost software license 1.0": "BSL-1.0", "the unlicense": "Unlicense",
    "mozilla public license 2.0": "MPL-2.0", "mpl 2.0": "MPL-2.0",
    "gpl": "GPL-3.0-or-later", "gplv3": "GPL-3.0-only", "gpl-3": "GPL-3.0-only", "gpl v3": "GPL-3.0-only",
    "gplv2": "GPL-2.0-only", "gpl-2": "GPL-2.0-only", "lgplv3": "LGPL-3.0-only", "lgpl-3": "LGPL-3.0-only",
    "lgplv2.1": "LGPL-2.1-only", "lgpl": "LGPL-3.0-or-later",
}
_CLASSIFIERS = {
    "Apache Software License": "Apache-2.0", "MIT License": "MIT", "MIT No Attribution License (MIT-0)": "MIT-0",
    "ISC License (ISCL)": "ISC", "zlib/libpng License": "Zlib", "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "The Unlicense (Unlicense)": "Unlicense", "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.1-only",
    "GNU Affero General Public License v3": "AGPL-3.0-only", "Python Software Foundation License": "PSF-2.0",
}
_LICENSING = get_spdx_licensing()  # SPDX's license and exception lists, as shipped with license-expression
_LICENSE_REF_RE = re.compile(r"(?:DocumentRef-[\w.-]+:)?LicenseRef-[\w.-]+")


def _parse(text: str) -> Any | None:
    """``text`` parsed as an SPDX expression (precedence, parentheses, ``WITH``), or ``None``.

    Every identifier must be on SPDX's lists, or a ``LicenseRef-`` (a license SPDX does not list).
    """
    text = text.strip()
    if not text or "\n" in text or len(text) > 200:
        return None
    try:
        parsed = _LICENSING.parse(text, validate=False, strict=True)
    except ExpressionError:
        return None
    if parsed is None:
        return None
    unknown = [k for k in _LICENSING.unknown_license_keys(parsed) if not _LICENSE_REF_RE.fullmatch(k)]
    return None if unknown else parsed


def normalize_expression(text: str) -> str | None:
    """An SPDX expression (``"Apache-2.0"``, ``"MIT OR Apache-2.0"``) with its identifiers spelled canonically.

    Returns ``None`` when ``text`` is not an expression (free text, a sentence, an identifier SPDX does not
    list, empty).
    """
    parsed = _parse(text)
    return None if parsed is None else str(parsed)


def _from_name(text: str) -> str | None:
    squeezed = re.sub(r"\s+", " ", text.strip().strip(".").lower())
    return _ALIASES.get(squeezed) or normalize_expression(text)


def license_from_text(text: str) -> str | None:
    """The SPDX id of a license text (a ``LICENSE`` file, or a ``License`` field holding the whole text)."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    named = _from_name(first) if len(first) < 80 else None
    if named:
        return named
    flat = " ".join(text.split()).lower()
    if "permission is hereby granted, free of charge" in flat:
        return "MIT"
    if "apache license" in flat and "version 2.0" in flat:
        return "Apache-2.0"
    if "redistribution and use in source and binary forms" in flat:
        return "BSD-3-Clause" if "neither the name" in flat or "names of its contributors" in flat else "BSD-2-Clause"
    if "permission to use, copy, modify, and/or distribute this software" in flat:
        return "ISC"
    if "this is free and unencumbered software released into the public domain" in flat:
        return "Unlicense"
    if "gnu lesser general public license" in flat:
        return "LGPL-3.0-or-later" if "version 3" in flat else "LGPL-2.1-or-later"
    if "gnu general public license" in flat:
        return "GPL-3.0-or-later" if "version 3" in flat else "GPL-2.0-or-later"
    return None


def classifier_license(classifiers: Iterable[str]) -> str | None:
    """The SPDX expression the ``License ::`` classifiers name (several: joined with ``OR``), or ``None``.

    ``License :: OSI Approved :: BSD License`` does not say which BSD license: it gives ``None``.
    """
    found = []
    for c in classifiers:
        parts = [p.strip() for p in c.split("::")]
        if parts[0] != "License":
            continue
        spdx = _CLASSIFIERS.get(parts[-1])
        if spdx is None:
            return None
        if spdx not in found:
            found.append(spdx)
    return " OR ".join(sorted(found)) if found else None


def distribution_license(meta: Message, license_text: str | None = None) -> tuple[str | None, str]:
    """The SPDX expression a distribution's metadata states, and which field said it.

    Args:
        meta: The distribution's metadata (``importlib.metadata.metadata(name)``).
        license_text: The text of the license file it ships, if any (the last resort).

    Returns:
        ``(expression or None, source)``; ``source`` is ``License-Expression``, ``License``,
        ``classifiers``, ``license file`` or ``none``.
    """
    expression = normalize_expression(meta.get("License-Expression") or "")
    if expression:
        return expression, "License-Expression"
    field = (meta.get("License") or "").strip()
    if field and field.upper() not in ("UNKNOWN", "NONE"):
        spdx = _from_name(field) if "\n" not in field else license_from_text(field)
        if spdx:
            return spdx, "License"
    spdx = classifier_license(meta.get_all("Classifier") or [])
    if spdx:
        return spdx, "classifiers"
    if license_text:
        spdx = license_from_text(license_text)
        if spdx:
            return spdx, "license file"
    return None, "none"


def is_allowed(expression: str, allowed: Iterable[str] = ()) -> bool:
    """Whether code under ``expression`` may be mined: the expression, evaluated as SPDX reads it, holds.

    ``A AND B`` needs both, ``A OR B`` either (``AND`` binds tighter; parentheses group), and
    ``A WITH exception`` is allowed when ``A`` is (an SPDX exception only adds permissions) or when
    the whole ``A WITH exception`` is in ``allowed``. A license is allowed when it is permissive
    (:data:`PERMISSIVE`) or in ``allowed``; anything unparsable is not.
    """
    parsed = _parse(expression)
    if parsed is None:
        return False
    ok = {x.lower() for x in PERMISSIVE} | {" ".join(x.split()).lower() for x in allowed}
    return _holds(parsed, ok)


def _holds(node: Any, ok: set[str]) -> bool:
    if isinstance(node, _LICENSING.AND):
        return all(_holds(arg, ok) for arg in node.args)
    if isinstance(node, _LICENSING.OR):
        return any(_holds(arg, ok) for arg in node.args)
    if isinstance(node, LicenseWithExceptionSymbol):
        return str(node).lower() in ok or _holds(node.license_symbol, ok)
    return str(node.key).lower() in ok
