"""Offline builders: the stand-in datasets and checkpoints, made on this machine.

Each builder is a module in this package with

    def build(out_dir: Path, *, size: str, seed: int, log: Callable[[str], None]) -> dict
    def missing_tools() -> list[str]          # optional: what must be installed first

``build`` writes into ``out_dir`` (an empty staging folder) and returns a summary dict.
``run_builds`` stages every build beside its target and renames it into place only when it
finished, so a crashed or interrupted build never leaves a folder that ``load_dataset`` or
``from_pretrained`` would read as complete. A build is skipped when its stamp (a hash of its
source files, size, seed and the stamps of what it reads) is unchanged.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..hub import standin_dir

STAMP = ".course_build.json"
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Builder:
    name: str  # folder name under datasets/ or models/, and the --only name
    kind: str  # "dataset" or "model"
    module: str  # module in course_utils.builders, or an absolute dotted path
    requires: tuple[str, ...] = ()  # builders whose output this one reads
    sources: tuple[str, ...] = field(default=())  # extra course_utils files that shape the output


# Order matters: datasets first, then the checkpoints trained on them.
BUILDERS: dict[str, Builder] = {
    b.name: b
    for b in [
        Builder("speech_commands", "dataset", "speech_commands", sources=("builders/speech.py",)),
        Builder("minds14", "dataset", "minds14", sources=("builders/speech.py",)),
        Builder("fleurs", "dataset", "fleurs", sources=("builders/speech.py",)),
        Builder("esc50", "dataset", "esc50", sources=("builders/_sfx.py",)),
        Builder("gtzan", "dataset", "gtzan", sources=("builders/_music.py",)),
        # Stand-in checkpoints (issue 5) are registered here once their builders exist.
        Builder("xlsr-minds14", "model", "model_wav2vec2", requires=("minds14",), sources=("training.py", "builders/model_common.py")),
        Builder("ast-speech-commands", "model", "model_ast", requires=("speech_commands",), sources=("training.py", "builders/model_common.py")),
        Builder("whisper-fleurs-lang-id", "model", "model_whisper", requires=("fleurs",), sources=("training.py", "builders/model_common.py")),
        Builder("clap-htsat-unfused", "model", "model_clap", requires=("esc50",), sources=("training.py", "builders/model_common.py")),
        Builder("distilhubert", "model", "model_hubert", requires=("speech_commands", "fleurs", "esc50", "gtzan"), sources=("training.py", "builders/model_common.py")),
    ]
}


class BuildError(RuntimeError):
    """A build could not run; the message says what to install or fix."""


def _package_root() -> Path:
    return Path(__file__).resolve().parent.parent


def fingerprint(builder: Builder, size: str, seed: int) -> str:
    """Content hash of everything that decides a build's output."""
    h = hashlib.sha256()
    root = _package_root()
    module_file = (
        Path(importlib.import_module(builder.module).__file__)
        if "." in builder.module
        else root / "builders" / f"{builder.module}.py"
    )
    files = [module_file] + [root / rel for rel in ("builders/_writer.py", *builder.sources)]
    for path in sorted(set(files)):
        h.update(path.name.encode())
        h.update(path.read_bytes() if path.exists() else b"<missing>")
    h.update(f"size={size};seed={seed}".encode())
    for dep in builder.requires:
        dep_b = BUILDERS[dep]
        # The upstream fingerprint, not its whole stamp: builds are deterministic, so only a
        # change of what decides the upstream output can change what a dependent reads.
        stamp = standin_dir(dep_b.kind, dep_b.name, size) / STAMP
        try:
            h.update(json.loads(stamp.read_text())["fingerprint"].encode())
        except (OSError, ValueError, KeyError):
            h.update(b"<unbuilt>")
    return h.hexdigest()


def is_current(builder: Builder, size: str, seed: int) -> bool:
    stamp = standin_dir(builder.kind, builder.name, size) / STAMP
    if not stamp.exists():
        return False
    try:
        return json.loads(stamp.read_text())["fingerprint"] == fingerprint(builder, size, seed)
    except (ValueError, KeyError):
        return False


def _order(names: list[str]) -> list[Builder]:
    """The requested builders plus what they require, dependencies first."""
    out: list[Builder] = []

    def visit(name: str) -> None:
        if name not in BUILDERS:
            raise BuildError(f"unknown builder {name!r}; known: {', '.join(BUILDERS)}")
        b = BUILDERS[name]
        for dep in b.requires:
            visit(dep)
        if b not in out:
            out.append(b)

    for n in names:
        visit(n)
    return out


def run_builds(
    names: list[str] | None = None,
    *,
    size: str,
    seed: int = DEFAULT_SEED,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, dict]:
    """Build what is missing or stale; return ``{name: summary}``. Raises ``BuildError`` listing failures."""
    results: dict[str, dict] = {}
    failed: dict[str, str] = {}
    for b in _order(names or list(BUILDERS)):
        if any(dep in failed for dep in b.requires):
            failed[b.name] = "skipped: a build it needs failed"
            continue
        target = standin_dir(b.kind, b.name, size)
        if not force and is_current(b, size, seed):
            log(f"[build] {b.name}: up to date ({target})")
            results[b.name] = {"status": "up to date", "path": str(target)}
            continue
        module = importlib.import_module(b.module if "." in b.module else f"{__name__}.{b.module}")
        missing = getattr(module, "missing_tools", lambda: [])()
        if missing:
            failed[b.name] = "missing tools:\n    " + "\n    ".join(missing)
            continue
        staging = target.parent / f".{b.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        log(f"[build] {b.name} ({b.kind}, size={size}, seed={seed}) ...")
        start = time.perf_counter()
        try:
            summary = module.build(staging, size=size, seed=seed, log=log) or {}
        except Exception as error:  # one failed build must not cost the others
            shutil.rmtree(staging, ignore_errors=True)
            failed[b.name] = f"{type(error).__name__}: {error}"
            log(traceback.format_exc())
            continue
        seconds = round(time.perf_counter() - start, 1)
        summary = {**summary, "seconds": seconds}
        stamp = {"fingerprint": fingerprint(b, size, seed), "size": size, "seed": seed, "summary": summary}
        (staging / STAMP).write_text(json.dumps(stamp, indent=2, default=str))
        if target.exists():
            old = target.parent / f".{b.name}.old"
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(target)
        log(f"[build] {b.name}: done in {seconds} s -> {target}")
        results[b.name] = {"status": "built", "path": str(target), **summary}
    if failed:
        lines = "\n".join(f"  {name}: {why}" for name, why in failed.items())
        raise BuildError(f"{len(failed)} build(s) failed:\n{lines}")
    return results


def main_build(argv_names: list[str] | None, size: str, seed: int, force: bool) -> int:
    try:
        run_builds(argv_names, size=size, seed=seed, force=force)
    except BuildError as error:
        print(f"[build] {error}", file=sys.stderr)
        return 1
    return 0
