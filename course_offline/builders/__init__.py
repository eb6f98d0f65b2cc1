"""Offline builders: the stand-in datasets and checkpoints, made on this machine.

Each builder is a module in this package with

    def build(out_dir: Path, *, size: str, seed: int, log: Callable[[str], None]) -> dict
    def missing_tools() -> list[str]          # optional: what must be installed first

``build`` writes into ``out_dir`` (an empty staging folder) and returns a summary dict.
``run_builds`` stages every build beside its target and renames it into place only when it
finished, so a crashed or interrupted build never leaves a folder that ``load_dataset`` or
``from_pretrained`` would read as complete. A build is skipped when its stamp (a hash of its
source code, size, seed and the stamps of what it reads) is unchanged; comments and docstrings
are not part of the hash.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import itertools
import json
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..store import STAMP, standin_dir
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Builder:
    name: str  # folder name under datasets/ or models/, and the --only name
    kind: str  # "dataset" or "model"
    module: str  # module in course_offline.builders, or an absolute dotted path
    requires: tuple[str, ...] = ()  # builders whose output this one reads
    sources: tuple[str, ...] = field(default=())  # extra course_utils files that shape the output
    # Wall seconds of one build, at course size (models: the six in one build from nothing, two at a
    # time, on the 2-core AVX2 machine, session 16; datasets two at a time on that machine, sessions 11-13) and
    # at tiny size (the eleven from nothing, two at a time, on that AVX2 machine, session 13): with --jobs,
    # `plan` orders the builds so that the cores finish together. Only their ratios matter.
    cost: float = 0.0
    tiny_cost: float = 0.0

    def cost_at(self, size: str) -> float:
        return self.tiny_cost if size == "tiny" else self.cost


# Paths relative to the folder that holds both packages.
SPEECH_SOURCES = ("course_offline/builders/speech.py", "course_offline/builders/_espeak.py")
MODEL_SOURCES = ("course_utils/training.py", "course_offline/builders/model_common.py", "course_utils/audio.py",
                 "course_utils/preprocessing.py", "course_utils/cgroups.py")
# Imported by builders without shaping what they write (where the data lives, the Hub switch).
NOT_OUTPUT_SHAPING = ("course_utils/hub.py", "course_offline/store.py", "course_offline/local_hub.py")
# Order matters: datasets first, then the checkpoints trained on them.
BUILDERS: dict[str, Builder] = {
    b.name: b
    for b in [
        Builder("speech_commands", "dataset", "speech_commands", cost=227, tiny_cost=9, sources=SPEECH_SOURCES),
        Builder("minds14", "dataset", "minds14", cost=89, tiny_cost=26, sources=SPEECH_SOURCES),
        Builder("fleurs", "dataset", "fleurs", cost=315, tiny_cost=34, sources=SPEECH_SOURCES),
        Builder("esc50", "dataset", "esc50", cost=60, tiny_cost=25, sources=("course_offline/builders/_sfx.py",)),
        Builder("gtzan", "dataset", "gtzan", cost=650, tiny_cost=25, sources=("course_offline/builders/_music.py",)),
        # Stand-in checkpoints (issue 5): the course_utils modules they import that shape the weights
        # (tests/test_builders_runner.py checks the list against the imports).
        Builder("xlsr-minds14", "model", "model_wav2vec2", requires=("minds14",), sources=MODEL_SOURCES, cost=437, tiny_cost=92),
        Builder("ast-speech-commands", "model", "model_ast", requires=("speech_commands",), sources=(*MODEL_SOURCES, "course_utils/fbank.py"), cost=334, tiny_cost=44),
        Builder("whisper-fleurs-lang-id", "model", "model_whisper", requires=("fleurs",), sources=MODEL_SOURCES, cost=652, tiny_cost=32),
        Builder("clap-htsat-unfused", "model", "model_clap", requires=("esc50",), sources=MODEL_SOURCES, cost=193, tiny_cost=25),
        # train.py: its card reports notebook 05's fine-tuning from it (train.py's defaults and
        # profiles are kept equal to configs/gtzan_finetune.yaml by a test).
        Builder("distilhubert-random-init", "model", "model_hubert_random", requires=("gtzan",),
                sources=(*MODEL_SOURCES, "course_utils/train.py", "course_offline/builders/model_hubert.py"), cost=101, tiny_cost=10),
        Builder("distilhubert", "model", "model_hubert",
                requires=("speech_commands", "fleurs", "esc50", "gtzan", "distilhubert-random-init"),
                sources=(*MODEL_SOURCES, "course_utils/train.py", "course_offline/builders/model_hubert_random.py"), cost=260, tiny_cost=28),
    ]
}


class BuildError(RuntimeError):
    """A build could not run; the message says what to install or fix."""


def _package_root() -> Path:
    """The folder that holds both packages (the checkout, or site-packages)."""
    return Path(__file__).resolve().parent.parent.parent


def _code_of(path: Path) -> bytes:
    """What of a source file decides a build: for Python, its syntax tree without docstrings (so
    editing a comment or a docstring leaves the stand-ins up to date); other files byte for byte."""
    if path.suffix != ".py":
        return path.read_bytes()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError):
        return path.read_bytes()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


def fingerprint(builder: Builder, size: str, seed: int) -> str:
    """Content hash of everything that decides a build's output."""
    h = hashlib.sha256()
    root = _package_root()
    module_file = (
        Path(importlib.import_module(builder.module).__file__)
        if "." in builder.module
        else root / "course_offline" / "builders" / f"{builder.module}.py"
    )
    # layout.py: the real repositories' layout, which the dataset builders write.
    shared = ("course_offline/builders/_writer.py", "course_offline/layout.py")
    files = [module_file] + [root / rel for rel in (*shared, *builder.sources)]
    for path in sorted(set(files)):
        h.update(path.name.encode())
        if path == root / "course_offline" / "layout.py":
            from ..layout import facts

            h.update(facts().encode())  # the table's facts, not its evidence and notes
            continue
        h.update(_code_of(path) if path.exists() else b"<missing>")
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


def makespan(order: list[str], jobs: int, costs: dict[str, float], requires: dict[str, tuple[str, ...]]) -> float:
    """Simulated wall time of running ``order`` on ``jobs`` slots: whenever a slot is free, the first
    build in ``order`` whose requirements are done starts (what ``run_builds`` does). Requirements
    outside ``order`` count as done."""
    pending, running, done, now = list(order), {}, set(), 0.0
    while pending or running:
        for name in list(pending):
            if len(running) < jobs and all(d in done or d not in costs for d in requires[name]):
                pending.remove(name)
                running[name] = now + costs[name]
        if not running:
            raise BuildError(f"circular requirements among {pending}")
        name = min(running, key=running.get)
        now = running.pop(name)
        done.add(name)
    return now


def plan(builds: list[Builder], jobs: int, size: str = "course", exhaustive_up_to: int = 7) -> list[Builder]:
    """The order in which ``run_builds`` starts ``builds`` on ``jobs`` slots, by their cost at ``size``.

    Longest critical path first (a build's cost plus its longest chain of dependents), then the best
    order found by simulation (``makespan``): for a few builds, the best of every order (7! = 5040
    simulations, milliseconds); for more, a local search that moves one build to another place in
    the order, or swaps two, while that ends sooner. Both matter: for the five course-size model
    builds and the DistilHuBERT baseline, critical path first takes about 1065 s on 2 cores and the
    best order about 991 s (bound 989; 996 s measured); for all eleven tiny builds, 185 s and 177 s against a bound of 175
    (with other costs, moves alone got stuck 2 s above what swaps then reached)."""
    costs = {b.name: b.cost_at(size) for b in builds}
    requires = {b.name: b.requires for b in builds}

    def chain(name: str) -> float:
        return costs[name] + max((chain(o) for o in costs if name in requires[o]), default=0.0)

    order = sorted(costs, key=lambda n: -chain(n))  # stable: else in dependency order
    best = makespan(order, jobs, costs, requires) if jobs > 1 else 0.0
    if jobs > 1 and len(order) <= exhaustive_up_to:
        for candidate in itertools.permutations(order):
            t = makespan(list(candidate), jobs, costs, requires)
            if t < best - 1e-9:  # strictly better: ties keep the critical-path order
                best, order = t, list(candidate)
    elif jobs > 1:
        improved = True
        while improved:  # each accepted move shortens the simulated time, so this ends
            improved = False
            for i, j in itertools.permutations(range(len(order)), 2):
                moved, swapped = list(order), list(order)
                moved.insert(j, moved.pop(i))
                swapped[i], swapped[j] = swapped[j], swapped[i]
                for candidate in (moved, swapped):
                    t = makespan(candidate, jobs, costs, requires)
                    if t < best - 1e-9:
                        best, order, improved = t, candidate, True
    by_name = {b.name: b for b in builds}
    return [by_name[n] for n in order]


def _build_one(name: str, size: str, seed: int, log: Callable[[str], None] = print) -> dict:
    """Run one builder in a staging folder and rename it into place; returns its summary."""
    b = BUILDERS[name]
    target = standin_dir(b.kind, b.name, size)
    module = importlib.import_module(b.module if "." in b.module else f"{__name__}.{b.module}")
    missing = getattr(module, "missing_tools", lambda: [])()
    if missing:
        raise BuildError("missing tools:\n    " + "\n    ".join(missing))
    staging = target.parent / f".{b.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    log(f"[build] {b.name} ({b.kind}, size={size}, seed={seed}) ...")
    start = time.perf_counter()
    try:
        summary = module.build(staging, size=size, seed=seed, log=log) or {}
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
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
    return {"status": "built", "path": str(target), **summary}


def _build_in_worker(name: str, size: str, seed: int) -> dict:
    """``_build_one`` in a worker process: its log lines go to this process's stdout."""
    import os

    import datasets
    import transformers

    os.environ["COURSE_SIZE"] = size
    # Two workers' progress bars share one terminal and garble each other's lines ("Generating
    # train split: 0 examples [00:00, ...]Generating train split: ..."); each build logs its own
    # start, figures and end instead.
    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    return _build_one(name, size, seed, log=lambda line: print(line, flush=True))


def run_builds(
    names: list[str] | None = None,
    *,
    size: str,
    seed: int = DEFAULT_SEED,
    force: bool = False,
    jobs: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, dict]:
    """Build what is missing or stale; return ``{name: summary}``. Raises ``BuildError`` listing failures.

    ``jobs > 1`` runs up to that many builds at once, each in its own process, as soon as what
    it reads is built (the model builds train on one core each, so two of them fill a 2-core
    machine). One failed build does not stop the others; what needs it is skipped.
    """
    results: dict[str, dict] = {}
    failed: dict[str, str] = {}
    todo = _order(names or list(BUILDERS))

    def up_to_date(b: Builder) -> bool:
        # Asked only once what it reads is final: its stamp decides this one's fingerprint.
        if force or not is_current(b, size, seed):
            return False
        log(f"[build] {b.name}: up to date ({standin_dir(b.kind, b.name, size)})")
        results[b.name] = {"status": "up to date", "path": str(standin_dir(b.kind, b.name, size))}
        return True

    def record_failure(name: str, error: BaseException) -> None:
        failed[name] = str(error) if isinstance(error, BuildError) else f"{type(error).__name__}: {error}"
        if not isinstance(error, BuildError):
            log("".join(traceback.format_exception(error)))

    if jobs <= 1:
        for b in todo:
            if any(dep in failed for dep in b.requires):
                failed[b.name] = "skipped: a build it needs failed"
                continue
            if up_to_date(b):
                continue
            try:
                results[b.name] = _build_one(b.name, size, seed, log)
            except Exception as error:  # one failed build must not cost the others
                record_failure(b.name, error)
    else:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        # spawn: a fresh interpreter per worker, no inherited torch/OpenMP state.
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            running: dict = {}
            planned = False
            while todo or running:
                # First settle what is up to date (in dependency order), so that every build whose
                # inputs are final competes for a core; then start ready ones in the planned order.
                for b in list(todo):
                    if all(dep in results for dep in b.requires) and up_to_date(b):
                        todo.remove(b)
                if not planned:  # once, over what is stale: a plan made mid-run would ignore the running builds
                    todo, planned = plan(todo, jobs, size), True
                for b in list(todo):
                    if any(dep in failed for dep in b.requires):
                        failed[b.name] = "skipped: a build it needs failed"
                        todo.remove(b)
                    elif len(running) < jobs and all(dep in results for dep in b.requires):
                        todo.remove(b)
                        running[pool.submit(_build_in_worker, b.name, size, seed)] = b.name
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    try:
                        results[name] = future.result()
                    except Exception as error:
                        record_failure(name, error)
    if failed:
        lines = "\n".join(f"  {name}: {why}" for name, why in failed.items())
        raise BuildError(f"{len(failed)} build(s) failed:\n{lines}")
    return results


def default_jobs() -> int:
    """Builds to run at once: one per core, at most 5 (the model builds train on one core each)."""
    import os

    return max(1, min(5, os.cpu_count() or 1))


def main_build(argv_names: list[str] | None, size: str, seed: int, force: bool, jobs: int | None = None) -> int:
    try:
        run_builds(argv_names, size=size, seed=seed, force=force, jobs=jobs or default_jobs())
    except BuildError as error:
        print(f"[build] {error}", file=sys.stderr)
        return 1
    return 0
