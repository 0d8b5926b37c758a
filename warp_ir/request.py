"""One build asked for: where it goes, the configuration, and how to run it, every setting checked here once.

:class:`generator.config.BuildConfig` holds what decides the rows; :class:`BuildRequest` adds what does not
(the engine and its processes, the output and what else to write there) and checks those settings, alone and
against the configuration and the output, in :meth:`BuildRequest.__post_init__`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from common.errors import ConfigError
from generator.config import BuildConfig
from warp_ir.views import ViewOptions

ENGINES = ("local", "ray")


def is_url(out: Any) -> bool:
    """Whether ``out`` names an fsspec URL (``proto://...``) rather than a local folder."""
    return isinstance(out, str) and "://" in out


@dataclass
class BuildRequest:
    """A build: its output, its configuration and how it runs.

    Attributes:
        out: Output folder (missing, empty, or made by an earlier ``warp-ir build``), or, with the ``ray``
            engine, an fsspec URL (:mod:`warp_ir.url_output`).
        config: What to build.
        engine: ``local`` (the ``datasets`` builder) or ``ray`` (:mod:`warp_ir.ray_engine`).
        num_proc: Worker processes (local engine; also its planning processes).
        address: Ray cluster address (``ray`` engine; default: start a local Ray instance).
        rows_per_file: Planned programs per Parquet file (``ray`` engine; default
            :data:`warp_ir.ray_engine.ROWS_PER_FILE`).
        max_in_flight: File tasks submitted at once (``ray`` engine; default two per CPU of the cluster).
        views: Write the chat views of the rows too (:mod:`warp_ir.views`; synthetic configuration).
        tokenizer: Count the code columns' tokens with this tokenizer for the card, and the views' rows.
        overwrite: Build into a folder that holds other files too (see :mod:`warp_ir.outdir`).
        keep_cache: Keep the builder's cache (and finished shards) under ``out/.warp-ir-cache``.
        command: The command line the card prints (default: the canonical rebuild command).
        baseline_rows: Held-out rows a split the card's retrieval baseline answers and scores
            (:mod:`warp_ir.retrieval`; 0: none, the default here; ``warp-ir build`` asks for 20).
    """

    out: Path | str
    config: BuildConfig
    engine: str = "local"
    num_proc: int = 1
    address: str | None = None
    rows_per_file: int | None = None
    max_in_flight: int | None = None
    views: ViewOptions | None = None
    tokenizer: str | None = None
    overwrite: bool = False
    keep_cache: bool = False
    command: str | None = None
    baseline_rows: int = 0

    def __post_init__(self) -> None:
        """Check the run's settings, alone and against the configuration and the output.

        Raises:
            ConfigError: A setting is invalid, or does not go with the others (one line naming it).
        """
        if self.engine not in ENGINES:
            raise ConfigError(f"unknown engine {self.engine!r} (known: {', '.join(ENGINES)})")
        if self.address is not None and self.engine != "ray":
            raise ConfigError("--address names a Ray cluster: it needs --engine ray")
        if self.engine == "ray" and self.config.name != "synthetic":
            raise ConfigError("the real configuration mines the packages installed here: build it with --engine local")
        ray_only = [name for name, value in (("--rows-per-file", self.rows_per_file),
                                             ("--max-in-flight", self.max_in_flight)) if value is not None]
        if ray_only and self.engine != "ray":
            raise ConfigError(f"{', '.join(ray_only)}: only for --engine ray")
        for name, value in (("rows_per_file", self.rows_per_file), ("max_in_flight", self.max_in_flight)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.num_proc, int) or self.num_proc < 1:
            raise ConfigError(f"num_proc must be a positive integer, got {self.num_proc!r}")
        if self.views is not None and self.config.name != "synthetic":
            raise ConfigError("chat views are written for the synthetic configuration")
        if self.views is not None and self.views.tokenizer != self.tokenizer:
            raise ConfigError("the views' tokenizer must be the build's --tokenizer")
        if is_url(self.out):
            if self.engine != "ray" or self.views is not None or self.tokenizer or self.baseline_rows:
                raise ConfigError(f"--out {self.out} is a URL: only --engine ray writes there, and without --views, "
                                  "--tokenizer or --baseline-rows (they read the rows back: build into a folder, or "
                                  "pass --baseline-rows 0)")
        else:
            self.out = Path(self.out)

    @classmethod
    def of(cls, out: Path | str, config_name: str, settings: dict[str, Any]) -> BuildRequest:
        """The request for ``settings``: :class:`BuildRequest` fields and :class:`BuildConfig` fields, by name.

        Raises:
            ConfigError: A setting is invalid.
            TypeError: A name is neither's field.
        """
        own = {f.name for f in fields(cls)}
        config = BuildConfig(name=config_name, **{k: v for k, v in settings.items() if k not in own})
        return cls(out, config, **{k: v for k, v in settings.items() if k in own})
