"""The build runner: staged writes, one failure costs one build, stamps skip what is current."""

from __future__ import annotations

import sys
import textwrap

import pytest
from datasets import load_dataset

from course_offline import builders, store
from course_offline.builders import BuildError, Builder, run_builds

TOY = textwrap.dedent(
    """
    import numpy as np
    from datasets import Audio, ClassLabel, Features, Value
    from course_offline import layout
    from course_offline.builders._writer import write_card, write_split
    ESC = layout.DATASETS["ashraq/esc50"]  # a repository pushed as parquet: main/data/train-*.parquet

    FEATURES = Features({"file": Value("string"), "audio": Audio(sampling_rate=16000),
                         "label": ClassLabel(names=["low", "high"])})
    FAIL_AFTER = None  # set by the test to make a build die half-way

    def rows(n, seed):
        rng = np.random.default_rng(seed)
        for i in range(n):
            if FAIL_AFTER is not None and i == FAIL_AFTER:
                raise RuntimeError("synthesizer crashed")
            freq = 200 if i % 2 == 0 else 2000
            t = np.arange(8000) / 16000
            audio = (0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(8000)).astype("float32")
            yield {"file": f"{i}.wav", "audio": {"array": audio, "sampling_rate": 16000, "path": f"{i}.wav"},
                   "label": i % 2}

    def build(out_dir, *, size, seed, log):
        n = 4 if size == "tiny" else 40
        count = write_split(out_dir, ESC, "default", "train", rows(n, seed), FEATURES)
        write_card(out_dir, ESC, "# toy stand-in")
        return {"clips": count}
    """
)


@pytest.fixture
def toy(offline, tmp_path, monkeypatch):
    package = tmp_path / "toybuilders"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "toy.py").write_text(TOY)
    (package / "other.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("toybuilders")]:
        del sys.modules[name]
    registry = {
        "toy": Builder("toy", "dataset", "toybuilders.toy"),
        "other": Builder("other", "dataset", "toybuilders.other"),
        "needs-toy": Builder("needs-toy", "dataset", "toybuilders.other", requires=("toy",)),
    }
    monkeypatch.setattr(builders, "BUILDERS", registry)
    import toybuilders.toy

    return toybuilders.toy


def test_build_then_skip_when_current(toy):
    first = run_builds(["toy"], size="tiny", seed=0, log=lambda s: None)
    folder = store.standin_dir("dataset", "toy", "tiny")
    assert first["toy"]["status"] == "built" and first["toy"]["clips"] == 4
    ds = load_dataset(str(folder / "main"), split="train")
    assert ds.features["label"].names == ["low", "high"] and len(ds) == 4
    stamp_before = (folder / builders.STAMP).stat().st_mtime_ns

    again = run_builds(["toy"], size="tiny", seed=0, log=lambda s: None)
    assert again["toy"]["status"] == "up to date"
    assert (folder / builders.STAMP).stat().st_mtime_ns == stamp_before

    reseeded = run_builds(["toy"], size="tiny", seed=1, log=lambda s: None)
    assert reseeded["toy"]["status"] == "built"  # a new seed is a new dataset


def test_failed_build_leaves_nothing_readable_and_others_finish(toy):
    toy.FAIL_AFTER = 2
    with pytest.raises(BuildError) as error:
        run_builds(["toy", "other", "needs-toy"], size="tiny", seed=0, log=lambda s: None)
    message = str(error.value)
    assert "toy: RuntimeError: synthesizer crashed" in message
    assert "needs-toy: skipped: a build it needs failed" in message
    datasets_dir = store.standin_dir("dataset", "toy", "tiny").parent
    assert not (datasets_dir / "toy").exists()
    assert not list(datasets_dir.glob(".*partial"))  # staging removed
    assert (datasets_dir / "other" / builders.STAMP).exists()  # the independent build still landed


def test_failed_rebuild_keeps_the_previous_good_build(toy):
    run_builds(["toy"], size="tiny", seed=0, log=lambda s: None)
    folder = store.standin_dir("dataset", "toy", "tiny")
    toy.FAIL_AFTER = 1
    with pytest.raises(BuildError):
        run_builds(["toy"], size="tiny", seed=0, force=True, log=lambda s: None)
    assert len(load_dataset(str(folder / "main"), split="train")) == 4


def test_dependents_rebuild_when_what_they_read_changes(toy):
    quiet = dict(size="tiny", seed=0, log=lambda s: None)
    run_builds(["needs-toy"], **quiet)
    assert run_builds(["needs-toy"], **quiet)["needs-toy"]["status"] == "up to date"
    # A forced, deterministic rebuild upstream changes nothing downstream...
    run_builds(["toy"], force=True, **quiet)
    assert run_builds(["needs-toy"], **quiet)["needs-toy"]["status"] == "up to date"
    # ...nor do docstrings and comments in the upstream builder...
    path = toy.__file__
    source = open(path).read().replace("def build(out_dir, *, size, seed, log):\n",
                                       "def build(out_dir, *, size, seed, log):\n    'Build it.'  # why\n")
    assert "'Build it.'" in source
    open(path, "w").write('"""The toy generator."""\n' + source + "\n# a comment\n")
    assert run_builds(["needs-toy"], **quiet)["toy"]["status"] == "up to date"
    # ...but a change to its code makes both stale.
    open(path, "a").write("\nVERSION = 2  # a new version of the generator\n")
    result = run_builds(["needs-toy"], **quiet)
    assert result["toy"]["status"] == "built" and result["needs-toy"]["status"] == "built"


def test_unknown_builder_is_named(toy):
    with pytest.raises(BuildError, match="unknown builder 'nope'"):
        run_builds(["nope"], size="tiny", log=lambda s: None)


def test_plan_beats_longest_first_and_respects_requirements():
    """Five builds of 3, 3, 2, 2, 2 s on 2 cores: longest first ends at 7 s (3+2+2 | 3+2, one core idle
    for 2 s); the plan pairs the two 3-s builds on one core and ends at 6 s."""
    from course_offline.builders import makespan, plan

    costs = {"a": 3, "b": 3, "c": 2, "d": 2, "e": 2}
    registry = [Builder(n, "model", "x", cost=c) for n, c in costs.items()]
    requires = {n: () for n in costs}
    assert makespan(list(costs), 2, costs, requires) == 7  # longest first
    order = [b.name for b in plan(registry, 2)]
    assert sorted(order) == sorted(costs) and makespan(order, 2, costs, requires) == 6
    order = [b.name for b in plan(registry, 2, exhaustive_up_to=0)]  # the local search finds it too
    assert sorted(order) == sorted(costs) and makespan(order, 2, costs, requires) == 6
    assert [b.name for b in plan(registry, 1)] == list(costs)  # one core: the order does not matter

    # A build never starts before what it requires is done, even when listed first: "late" (1 s)
    # needs "slow" (5 s), so on 2 cores it ends at 6 s whatever the order says.
    costs = {"late": 1, "slow": 5, "quick": 1}
    requires = {"late": ("slow",), "slow": (), "quick": ()}
    assert makespan(["late", "slow", "quick"], 2, costs, requires) == 6
    # ...and a long chain starts first: "head" (1 s) unlocks "tail" (5 s), so critical path puts it
    # before two 4-s builds (8 s in all; longest first would end at 4 + 1 + 5 = 10 s).
    registry = [Builder("mid1", "model", "x", cost=4), Builder("mid2", "model", "x", cost=4),
                Builder("head", "model", "x", cost=1), Builder("tail", "model", "x", requires=("head",), cost=5)]
    costs, requires = {b.name: b.cost for b in registry}, {b.name: b.requires for b in registry}
    assert makespan(["mid1", "mid2", "head", "tail"], 2, costs, requires) == 10
    for exhaustive in (0, 7):
        order = [b.name for b in plan(registry, 2, exhaustive_up_to=exhaustive)]
        assert order[0] == "head" and makespan(order, 2, costs, requires) == 8
    with pytest.raises(BuildError, match="circular"):
        makespan(["p", "q"], 2, {"p": 1, "q": 1}, {"p": ("q",), "q": ("p",)})


def test_plan_uses_the_costs_of_the_size_built():
    """All eleven builds from nothing: ordered by their tiny costs, the two cores end within a few
    seconds of each other; the order made for course-size costs leaves one core idle longer."""
    from course_offline.builders import BUILDERS, makespan, plan

    registry = list(BUILDERS.values())
    requires = {b.name: b.requires for b in registry}
    tiny = {b.name: b.cost_at("tiny") for b in registry}
    assert all(tiny.values()) and tiny != {b.name: b.cost for b in registry}
    for_tiny = [b.name for b in plan(registry, 2, "tiny")]
    for_course = [b.name for b in plan(registry, 2, "course")]
    assert sorted(for_tiny) == sorted(BUILDERS)
    assert makespan(for_tiny, 2, tiny, requires) <= sum(tiny.values()) / 2 + 2
    # strictly sooner: a plan that ignored the size would give the same order and the same time
    assert makespan(for_tiny, 2, tiny, requires) < makespan(for_course, 2, tiny, requires)


def _course_imports(path, root, seen=None) -> set:
    """The course files ``path`` imports (relative, or absolute from course_utils / course_offline),
    directly or through other course modules."""
    import ast

    seen = set() if seen is None else seen
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
        elif (node.module or "").split(".")[0] in ("course_utils", "course_offline"):
            base = root  # absolute: from the folder that holds both packages
        else:
            continue
        stem = base / node.module.replace(".", "/") if node.module else base
        candidates = [stem.with_suffix(".py")] if node.module else []
        candidates += [stem / f"{alias.name}.py" for alias in node.names]
        for candidate in candidates:
            if candidate.exists() and candidate not in seen:
                seen.add(candidate)
                _course_imports(candidate, root, seen)
    return seen


@pytest.mark.parametrize("name", list(builders.BUILDERS))
def test_fingerprint_covers_every_module_a_build_imports(name):
    """Editing a module that shapes a build's output must make that build stale."""
    root = builders._package_root()
    builder = builders.BUILDERS[name]

    def covered(b) -> set:
        own = {root / "course_offline" / "builders" / f"{b.module}.py", root / "course_offline" / "builders" / "_writer.py",
               root / "course_offline" / "layout.py", *(root / s for s in b.sources)}
        return own.union(*(covered(builders.BUILDERS[d]) for d in b.requires))  # upstream fingerprints

    imported = _course_imports(root / "course_offline" / "builders" / f"{builder.module}.py", root)
    exempt = {root / rel for rel in builders.NOT_OUTPUT_SHAPING}
    missing = sorted(str(p.relative_to(root)) for p in imported - covered(builder) - exempt)
    assert not missing, f"{name} imports {missing} but its fingerprint does not hash them"
