"""Render the Hub README (``dataset_card.md`` at the project root is its Jinja template)."""

from __future__ import annotations

import datetime
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
import pyarrow.parquet as pq
import yaml

from evaluation.tasks import TASKS
from generator.planning.similarity import BIN_LABELS
from warp_ir.outdir import CARD, VIEWS_DIR
from warp_ir.stats import CONFIG_PREFIX, compute_stats, real_in_synthetic, split_files

SMALL_SPLIT = 100  # a split with fewer rows gets a warning in the card: too few to compare models on
EXAMPLE_SOURCE_LINES = 40  # lines of the example row's python_source shown in the card
EXAMPLE_CODE_LINES = 30  # lines of its cpp_forward
EXAMPLE_COLUMNS = ("id", "family", "kernel_name", "python_source", "cpp_forward")


def _card_template() -> Path:
    """``dataset_card.md``: beside the package in a checkout, under ``<prefix>/share/warp-ir`` once installed."""
    for candidate in (Path(__file__).resolve().parent.parent / "dataset_card.md",
                      Path(sys.prefix) / "share" / "warp-ir" / "dataset_card.md"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("dataset_card.md not found (reinstall warp-ir-dataset)")


def write_card(dest: Path, known: dict[str, dict[str, Any]], folders: dict[str, Path] | None = None,
               overlap: list[str] | None = None) -> None:
    """Render ``dest/README.md`` from the statistics of every configuration present.

    Args:
        dest: Where the card goes (a build's staging folder).
        known: Statistics already computed or recorded, by config name (those of a configuration present in
            ``folders`` but missing here are computed from its rows: a folder built before records kept them).
        folders: Config name -> the folder holding its files (the staging folder for the configuration being
            built, the output folder for the others); ``None``: the configurations of ``known`` alone, without
            split sizes or an example row (a build written to an object store).
        overlap: The real kernels whose normalised program also appears among the synthetic ones (``None``:
            read from the rows of both).
    """
    if folders is None:
        (dest / CARD).write_text(render_card(known, []), encoding="utf-8")
        return
    present = [name for name in CONFIG_PREFIX if split_files(folders[name], CONFIG_PREFIX[name])]
    stats = {name: known.get(name) or compute_stats(folders[name], name) for name in present}
    if overlap is None:
        overlap = real_in_synthetic(folders["synthetic"], folders["real"])
    # the card reads split sizes and an example row: each configuration's files from dest (what this
    # build staged) if it holds them, else from its folder
    searched = list(dict.fromkeys([dest, folders["synthetic"], folders["real"]]))
    (dest / CARD).write_text(render_card(stats, overlap, folders=searched), encoding="utf-8")


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` rows."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "n>10M"


def render_card(stats: dict[str, dict[str, Any]], overlap: list[str] | None = None,
                repo_id: str = "org/warp-ir", folders: Sequence[Path] | None = None, year: int | None = None) -> str:
    """Render the dataset card.

    Args:
        stats: Config name -> :func:`warp_ir.stats.compute_stats` output, for each config present.
        overlap: Real kernels whose normalised program also appears in the synthetic data.
        repo_id: Hub repository shown in the usage snippet and the citation.
        folders: Folders holding the configurations' Parquet files, searched in order (the staging folder
            first): each configuration's files are those of the first folder that has some. They give the
            ``dataset_info`` split sizes of the YAML header and the example row; without them (a build
            written to a URL) the card has neither.
        year: Year of the citation (default: :func:`build_year`).
    """
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    template = env.from_string(_card_template().read_text(encoding="utf-8"))
    syn, real = stats.get("synthetic"), stats.get("real")
    any_stats = syn or real
    configs = [{"name": name, "prefix": s["prefix"], "splits": list(s["rows"]), "default": name == "synthetic",
                "rows": dict(s["rows"])}
               for name, s in stats.items()]
    views = (syn or {}).get("build", {}).get("views")
    if views and syn:  # one configuration per task with rows: chat/<slug>/<split>-*.parquet, its splits that hold rows
        configs += [{"name": entry["config"], "prefix": f"{VIEWS_DIR}/{TASKS[name].slug}", "default": False,
                     "splits": [split for split in syn["rows"] if entry["rows"].get(split)],
                     "rows": {split: entry["rows"][split] for split in syn["rows"] if entry["rows"].get(split)}}
                    for name, entry in views["tasks"].items() if name in TASKS and any(entry["rows"].values())]
    files = {c["name"]: config_files(folders, c["prefix"]) for c in configs} if folders else {}
    builds = {name: s.get("build", {}) for name, s in stats.items()}
    if any_stats is None:
        raise ValueError("no configuration to describe: the card needs the statistics of at least one")
    context: dict[str, Any] = {
        "syn": syn, "real": real, "configs": configs, "repo_id": repo_id, "overlap": overlap or [],
        "size_category": size_category(sum(s["total_rows"] for s in stats.values())),
        "warp_version": any_stats["build"]["warp_version"], "builder_version": any_stats["build"]["builder_version"],
        "sbuild": syn["build"] if syn else {}, "rbuild": real["build"] if real else {},
        "similarity_bins": BIN_LABELS,  # build_info.json sorts keys: the histogram is shown in bin order
        "tasks": TASKS,
        "chat_configs": [c for c in configs if c["name"].startswith("chat-")],
        "dataset_info_yaml": dataset_info_yaml(configs, files) if files else "",
        "warnings": small_split_warnings(configs),
        "example": example_row(stats, files),
        "warp_versions": {name: b.get("warp_version") for name, b in builds.items()},
        "validate_levels": {name: _validate_level(b) for name, b in builds.items()},
        "validation_notes": {name: validation_note(_validate_level(b), (b.get("config") or {}).get("targets"))
                             for name, b in builds.items()},
        "absolute_paths": {name: max(s.get("absolute_paths", {}).values(), default=0) for name, s in stats.items()},
        "citation": citation(repo_id, any_stats["build"]["builder_version"], any_stats["build"]["warp_version"],
                             year or build_year(builds)),
    }
    context["realism"] = realism_context(syn, real)
    if syn:
        build = syn["build"]
        rejected = sorted(build.get("rejected", {}).items(), key=lambda kv: (-kv[1], kv[0]))
        context.update(
            rejected=rejected, rejected_total=sum(n for _, n in rejected),
            rejected_pct=100.0 * sum(n for _, n in rejected) / max(1, build["plan"]["kept"]),
            complexities=sorted({int(k.split("/")[1]) for k in syn["family_complexity"]}),
        )
    return template.render(**context)


_REALISM_ROWS = (
    ("rows with a dead local", "dead_local_rows", "pct"),
    ("locals that are dead", "dead_local_share", "pct"),
    ("rows with a degenerate operation", "degenerate_rows", "pct"),
    ("arbitrary constants per line", "arbitrary_constants_per_line", "rate"),
    ("median call depth", "median_call_depth", "num"),
    ("median longest line (characters)", "median_longest_line", "num"),
    ("median lines", "median_lines", "num"),
    ("median `cpp_forward` (characters)", "median_cpp_forward", "num"),
    ("median `cpp_backward` (characters)", "median_cpp_backward", "num"),
)


def realism_context(syn: dict[str, Any] | None, real: dict[str, Any] | None) -> dict[str, Any] | None:
    """The card's realism section: per source (template, synthesized, real), the reading figures and the feature
    table, real code's column from this build's real configuration when it has one, else the shipped reference."""
    syn_realism = (syn or {}).get("realism") or {}
    sources = dict(syn_realism.get("sources") or {})
    reference = syn_realism.get("real_reference")
    real_sources = ((real or {}).get("realism") or {}).get("sources") or {}
    if "real" in real_sources:
        sources["real"] = real_sources["real"]
        real_from = "this build's `real` configuration"
    elif reference:
        sources["real"] = reference["summary"]
        on = reference["measured_on"]
        real_from = (f"the reference shipped with warp-ir: {on['rows']} rows of a default `real` build "
                     f"({len(on['packages'])} packages, Warp {', '.join(on['warp_version'])}, {on['date']})")
    else:
        real_from = ""
    if not sources:
        return None
    features = syn_realism.get("features") or ((real or {}).get("realism") or {}).get("features") or []
    labels = {"template": "templates", "synthesized": "synthesized", "real": "real code"}

    def cell(value: float, fmt: str) -> str:
        return f"{100 * value:.1f}%" if fmt == "pct" else f"{value:.3f}" if fmt == "rate" else f"{value:,.0f}"

    columns = [name for name in ("template", "synthesized", "real") if name in sources]
    rows = [[label, *(cell(sources[c][key], fmt) for c in columns)] for label, key, fmt in _REALISM_ROWS]
    build_features = syn_realism.get("build_features") or {}
    feature_rows = []
    for f in features:
        values = [f"{100 * sources[c]['features'].get(f['name'], 0.0):.1f}" for c in columns]
        if build_features:
            values.insert(len([c for c in columns if c != "real"]),
                          f"{100 * build_features.get(f['name'], 0.0):.1f}")
        feature_rows.append({"name": f["name"], "meaning": f["meaning"], "idiom": f["idiom"], "values": values})
    headers = [labels[c] for c in columns]
    if build_features:
        headers.insert(len([c for c in columns if c != "real"]), "whole build")
    return {"headers": [labels[c] for c in columns], "rows": rows, "feature_headers": headers,
            "features": feature_rows, "real_from": real_from, "gap": syn_realism.get("gap"),
            "idioms_below_half": syn_realism.get("idioms_below_half"),
            "counts": {labels[c]: sources[c]["rows"] for c in columns}}


def _validate_level(build: dict[str, Any]) -> str:
    return (build.get("config") or {}).get("validate") or "codegen"


def validation_note(level: str, targets: Sequence[str] | None) -> str:
    """What a build's validation level proves about its code, and what it does not."""
    cuda = "cuda" in (targets or ("cpu", "cuda"))
    if level == "codegen":
        return ("Warp generated the code; nothing was compiled" + (" (not even the CUDA code to PTX)" if cuda else "")
                + " or run: a row's code is what Warp writes, not code a compiler was seen to accept.")
    compiled = "The C++ compiled with Warp's Clang/LLVM" + (" and the CUDA code to PTX through NVRTC" if cuda else "")
    if level == "compile":
        return compiled + "; no kernel was run."
    ran = "; each kernel ran on the CPU on generated inputs" + (
        " and its backward pass was checked against finite differences" if level == "grad" else "")
    return compiled + ran + ("; the CUDA code was compiled, not run." if cuda else ".")


def config_files(folders: Sequence[Path], prefix: str) -> dict[str, list[Path]]:
    """The Parquet files of each split under ``prefix``, in the first of ``folders`` that has any."""
    for folder in folders:
        files = split_files(Path(folder), prefix)
        if files:
            return files
    return {}


def split_size(paths: list[Path]) -> tuple[int, int]:
    """``(rows, Arrow bytes)`` of one split's files.

    The Arrow size is that of the split held as one table (offsets, values, and a validity bitmap for a
    column with nulls): what ``datasets`` records as a split's ``num_bytes``, to within a few bytes a column,
    but independent of how the rows are spread over files and row groups (which follows the number of
    processes), so the card stays the same. It is counted one column of one row group at a time, so a large
    build is never held in memory.
    """
    rows = 0
    counts: dict[tuple[str, ...], list[int]] = {}
    schema = None
    for path in paths:
        pf = pq.ParquetFile(path)
        schema = schema or pf.schema_arrow
        rows += pf.metadata.num_rows
        for group in range(pf.metadata.num_row_groups):
            for field in schema:
                for chunk in pf.read_row_group(group, columns=[field.name]).column(0).chunks:
                    _count(chunk, (field.name,), counts)
    size = sum(_arrow_size(field.type, (field.name,), counts) for field in schema) if schema else 0
    return rows, size


def _count(arr: Any, path: tuple[str, ...], counts: dict[tuple[str, ...], list[int]]) -> None:
    """Add one chunk's values, nulls and variable-length bytes to ``counts[path]``, recursively."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    entry = counts.setdefault(path, [0, 0, 0])
    entry[0] += len(arr)
    entry[1] += arr.null_count
    kind = arr.type
    if pa.types.is_string(kind) or pa.types.is_binary(kind) or pa.types.is_large_string(kind) \
            or pa.types.is_large_binary(kind):
        entry[2] += pc.sum(pc.binary_length(arr)).as_py() or 0
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        _count(arr.flatten(), (*path, "[]"), counts)
    elif pa.types.is_struct(kind):
        for i in range(kind.num_fields):
            _count(arr.field(i), (*path, kind.field(i).name), counts)


def _arrow_size(kind: Any, path: tuple[str, ...], counts: dict[tuple[str, ...], list[int]]) -> int:
    """Bytes of the column at ``path`` held as one Arrow array, from what :func:`_count` gathered."""
    import pyarrow as pa  # noqa: PLC0415

    n, nulls, data = counts.get(path, (0, 0, 0))
    size = (n + 7) // 8 if nulls else 0  # validity bitmap
    if pa.types.is_string(kind) or pa.types.is_binary(kind) or pa.types.is_list(kind):
        size += 4 * (n + 1) + data
    elif pa.types.is_large_string(kind) or pa.types.is_large_binary(kind) or pa.types.is_large_list(kind):
        size += 8 * (n + 1) + data
    elif pa.types.is_boolean(kind):
        size += (n + 7) // 8
    elif not pa.types.is_struct(kind) and not pa.types.is_null(kind):
        size += n * kind.bit_width // 8
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        size += _arrow_size(kind.value_type, (*path, "[]"), counts)
    elif pa.types.is_struct(kind):
        size += sum(_arrow_size(kind.field(i).type, (*path, kind.field(i).name), counts)
                    for i in range(kind.num_fields))
    return size


def dataset_info_yaml(configs: list[dict[str, Any]], files: dict[str, dict[str, list[Path]]]) -> str:
    """The ``dataset_info`` entry of the card's YAML header: each configuration's features and split sizes.

    ``datasets`` reads it (:meth:`datasets.DatasetInfosDict.from_dataset_card_data`) and, when it loads or tests
    the dataset (``datasets-cli test``), checks that every split has ``num_examples`` rows.
    """
    from datasets import Features  # noqa: PLC0415 - only when a card is rendered from local files

    infos = []
    for config in configs:
        by_split = files.get(config["name"]) or {}
        splits = []
        for split in config["splits"]:
            if split in by_split:
                rows, arrow = split_size(by_split[split])
                splits.append({"name": split, "num_bytes": arrow, "num_examples": rows})
        if not splits:
            continue
        first = next(iter(by_split.values()))[0]
        features = Features.from_arrow_schema(pq.read_schema(first))
        # no download_size: the Parquet files' bytes follow how the rows are spread over files
        infos.append({"config_name": config["name"], "features": features._to_yaml_list(), "splits": splits,
                      "dataset_size": sum(split["num_bytes"] for split in splits)})
    if not infos:
        return ""
    return yaml.safe_dump({"dataset_info": infos}, sort_keys=False, allow_unicode=True, width=120).rstrip("\n")


def small_split_warnings(configs: list[dict[str, Any]], limit: int = SMALL_SPLIT) -> list[str]:
    """One sentence per configuration that has a split of fewer than ``limit`` rows."""
    out = []
    for config in configs:
        small = [(split, n) for split, n in config["rows"].items() if n < limit]
        if small:
            parts = [f"the `{split}` split has {n} row{'s' if n != 1 else ''}" for split, n in small]
            listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
            out.append(f"in `{config['name']}`, {listed}: fewer than {limit} rows, too few to train or compare "
                       "models on")
    return out


def example_row(stats: dict[str, dict[str, Any]], files: dict[str, dict[str, list[Path]]]) -> dict[str, Any] | None:
    """The card's example: the first row of ``train`` of ``synthetic`` (else ``real``; else their first split).

    Only the columns shown are read, from the first row group of the split's first file.
    """
    for name in ("synthetic", "real"):
        by_split = files.get(name) or {}
        if name not in stats or not by_split:
            continue
        split = "train" if "train" in by_split else next(iter(by_split))
        pf = pq.ParquetFile(by_split[split][0])
        if not pf.metadata.num_row_groups or not pf.metadata.num_rows:
            continue
        columns = [c for c in EXAMPLE_COLUMNS if c in pf.schema_arrow.names]
        row = pf.read_row_group(0, columns=columns).slice(0, 1).to_pylist()[0]
        out: dict[str, Any] = {"config": name, "split": split, **{k: row.get(k) or "" for k in EXAMPLE_COLUMNS[:3]}}
        for column, limit, lang in (("python_source", EXAMPLE_SOURCE_LINES, "python"),
                                    ("cpp_forward", EXAMPLE_CODE_LINES, "cpp")):
            lines = (row.get(column) or "").splitlines()
            if lines:
                text = "\n".join(lines[:limit])
                out[column] = {"text": text, "lines": len(lines), "shown": min(limit, len(lines)),
                               "fence": fence(text), "lang": lang}
        return out
    return None


def fence(text: str) -> str:
    """A Markdown code fence that ``text`` cannot close: longer than its longest run of backticks (at least 3)."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def build_year(builds: dict[str, dict[str, Any]]) -> int:
    """The citation's year: the build's own record of when it was made if it has one, else ``SOURCE_DATE_EPOCH``
    (reproducible builds), else this year (UTC)."""
    for build in builds.values():
        when = build.get("year") or build.get("built_at") or build.get("date")
        if isinstance(when, int) and 1900 < when < 10000:
            return when
        if isinstance(when, str) and re.match(r"\d{4}\b", when):
            return int(when[:4])
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC).year
    return datetime.datetime.now(datetime.UTC).year


def citation(repo_id: str, builder_version: str, warp_version: str, year: int) -> str:
    """The card's BibTeX entry (no invented authors: the project's contributors)."""
    return "\n".join([
        "@misc{warp_ir,",
        "  title        = {warp-ir: NVIDIA Warp kernels paired with the C++ and CUDA code Warp generates for them},",
        "  author       = {{warp-ir contributors}},",
        f"  year         = {{{year}}},",
        f"  version      = {{{builder_version}}},",
        f"  note         = {{Builder version {builder_version}; code generated by Warp {warp_version}}},",
        f"  howpublished = {{\\url{{https://huggingface.co/datasets/{repo_id}}}}},",
        "}",
    ])
