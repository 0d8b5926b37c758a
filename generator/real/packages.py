"""Which installed distributions hold real Warp code, and what their metadata says about them.

Nothing here imports a mined package: distributions are found and described from their
installed metadata (``importlib.metadata``) alone.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import cast

from packaging.requirements import InvalidRequirement, Requirement

from common.errors import WarpIRError
from generator.real.licenses import distribution_license

WARP = "warp-lang"
SELF = "warp-ir-dataset"  # this tool: its kernels are its templates' and its fixtures', not real code
_REPO_LABELS = ("repository", "source", "source code", "code", "github", "homepage", "home")
_LICENSE_FILE_RE = re.compile(r"^(LICEN[CS]E|COPYING)", re.IGNORECASE)


class PackageError(WarpIRError, ValueError):
    """A package named for mining is not installed (the message is one line)."""


def canonical(name: str) -> str:
    """The normalised distribution name (PEP 503): ``warp_jsb`` and ``Warp.JSB`` are ``warp-jsb``."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """What the metadata of one installed distribution says.

    Attributes:
        name: Canonical distribution name (``warp-jsb``).
        version: Installed version.
        import_names: Top-level import packages it installs (``warp_jsb``).
        license: SPDX expression (see :func:`generator.real.licenses.distribution_license`); ``None`` when unknown.
        license_source: Which metadata field gave it (``License-Expression``, ``License``, ``classifiers``, ...).
        license_file: File name of the license it ships (``LICENSE``), ``""`` if none.
        repository: Source repository URL from its ``Project-URL``/``Home-page``, ``""`` if none.
    """

    name: str
    version: str
    import_names: tuple[str, ...]
    license: str | None
    license_source: str
    license_file: str
    repository: str


def _metadata(dist: md.Distribution) -> Message:
    """A distribution's metadata, an ``email.message.Message`` (typeshed's ``PackageMetadata`` has no ``get``)."""
    return cast(Message, dist.metadata)


def _distribution(name: str) -> md.Distribution | None:
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        pass
    wanted = canonical(name)
    for dist in md.distributions():
        if canonical(_metadata(dist).get("Name") or "") == wanted:
            return dist
    return None


def _requirement_names(dist: md.Distribution) -> set[str]:
    names = set()
    for text in dist.requires or []:
        try:
            names.add(canonical(Requirement(text).name))
        except InvalidRequirement:
            continue
    return names


def warp_dependents() -> list[str]:
    """Every installed distribution that depends on warp-lang, directly or through another one, sorted.

    Requirements of any extra count (skrl needs warp-lang only for its ``warp`` extra); warp-lang
    itself and this tool are left out.
    """
    requires: dict[str, set[str]] = {}
    for dist in md.distributions():
        name = canonical(_metadata(dist).get("Name") or "")
        if name:
            requires.setdefault(name, set()).update(_requirement_names(dist))
    found: set[str] = set()
    frontier = {WARP}
    while frontier:
        frontier = {n for n, reqs in requires.items() if reqs & frontier and n not in found and n not in (WARP, SELF)}
        found |= frontier
    return sorted(found)


def resolve_packages(names: Sequence[str] | None) -> list[str]:
    """The packages to mine: ``names`` (canonical, in order, deduplicated) or warp-lang and its dependents.

    Raises:
        PackageError: A named distribution is not installed.
    """
    if names is None:
        return [WARP, *warp_dependents()]
    out: list[str] = []
    for name in names:
        if _distribution(name) is None:
            raise PackageError(f"package {name!r} is not installed: pip install {name} (or leave it out of --packages)")
        if canonical(name) not in out:
            out.append(canonical(name))
    return out


def _import_names(dist: md.Distribution) -> tuple[str, ...]:
    top = (dist.read_text("top_level.txt") or "").split()
    if not top:  # no top_level.txt (most non-setuptools wheels): the first folder of its installed .py files
        top = sorted({f.parts[0].removesuffix(".py") for f in dist.files or [] if f.suffix == ".py"
                      and len(f.parts) >= 1 and not f.parts[0].endswith((".dist-info", ".data"))})
    return tuple(sorted(n for n in top if n.isidentifier() and not n.startswith("_")))


def _repository(meta: Message) -> str:
    urls: dict[str, str] = {}
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls.setdefault(label.strip().lower(), url.strip())
    home = (meta.get("Home-page") or "").strip()
    for label in _REPO_LABELS:
        url = urls.get(label) or (home if label == "homepage" else "")
        if url.startswith(("https://", "http://")):
            return url.removesuffix(".git").rstrip("/")
    return ""


def _license_file(dist: md.Distribution) -> tuple[str, str | None]:
    names = [n for n in (dist.metadata.get_all("License-File") or []) if _LICENSE_FILE_RE.match(Path(n).name)]
    if not names:
        names = sorted(str(f) for f in dist.files or [] if ".dist-info" in str(f) and _LICENSE_FILE_RE.match(f.name))
        names = [Path(n).name for n in names]
    if not names:
        return "", None
    name = names[0]
    text = dist.read_text(f"licenses/{name}") or dist.read_text(name)
    return Path(name).name, text


def package_info(name: str) -> PackageInfo:
    """Describe an installed distribution from its metadata.

    Raises:
        PackageError: It is not installed.
    """
    dist = _distribution(name)
    if dist is None:
        raise PackageError(f"package {name!r} is not installed: pip install {name} (or leave it out of --packages)")
    meta = _metadata(dist)
    license_file, license_text = _license_file(dist)
    license_expr, source = distribution_license(meta, license_text)
    return PackageInfo(name=canonical(meta.get("Name") or name), version=dist.version,
                       import_names=_import_names(dist), license=license_expr, license_source=source,
                       license_file=license_file, repository=_repository(meta))


def files_digest(root: Path, import_names: Sequence[str]) -> str:
    """SHA-256 over the installed Python files of a package (relative path and content): changes when its code does."""
    h = hashlib.sha256()
    for top in import_names:
        base = root / top
        paths = sorted(base.rglob("*.py")) if base.is_dir() else [root / f"{top}.py"]
        for path in paths:
            if "__pycache__" in path.parts or not path.is_file():
                continue
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()
