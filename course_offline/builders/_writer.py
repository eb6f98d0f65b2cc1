"""Writing a stand-in dataset in the layout of its real Hub repository (``course_offline.layout``).

A dataset stand-in's folder holds one folder per revision:

    <out_dir>/main/README.md                      the stand-in's card (it says it is not the real thing)
    <out_dir>/main/<script>.py                    where the real repo has a loading script (refused today)
    <out_dir>/refs%2Fconvert%2Fparquet/<config>/<split>/0000.parquet   the Hub's parquet conversion
    <out_dir>/main/data/<split>-00000-of-00001.parquet                 a repository pushed as parquet

The Hub dataset's ``Features`` are embedded in each parquet file's schema, so ``load_dataset``
returns the same columns, feature types and ClassLabel names as the real dataset. Rows are
streamed to disk in small batches: a 30-s-clip corpus never has to fit in memory.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from .. import layout

ROWS_PER_BATCH = 64
ROWS_PER_FILE = 2000


def encode_wav(array: np.ndarray, sampling_rate: int) -> bytes:
    """16-bit PCM WAV bytes; deterministic for the same samples."""
    buf = io.BytesIO()
    sf.write(buf, np.asarray(array, dtype=np.float32), sampling_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _encode_row(row: dict, features) -> dict:
    row = dict(row)
    for column, feature in features.items():
        value = row.get(column)
        if type(feature).__name__ == "Audio" and isinstance(value, dict) and "array" in value:
            row[column] = {
                "bytes": encode_wav(value["array"], value["sampling_rate"]),
                "path": value.get("path"),
            }
    return features.encode_example(row)


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def revision_folder(out_dir: Path, repo: layout.DatasetRepo, revision: str | None = None) -> Path:
    """Where a revision's files go inside a stand-in's build folder."""
    folder = out_dir / repo.subdir / layout.folder_name(revision or repo.revision)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_split(out_dir: Path, repo: layout.DatasetRepo, config: str, split: str, rows: Iterable[dict],
                features) -> int:
    """Stream ``rows`` into ``repo``'s data files for ``config``/``split``; returns the row count."""
    root = revision_folder(out_dir, repo)
    schema = features.arrow_schema
    count, writer, in_file = 0, None, 0
    paths: list[Path] = []
    try:
        for batch in _batches(rows, ROWS_PER_BATCH):
            if writer is None or in_file >= ROWS_PER_FILE:
                if writer is not None:
                    writer.close()
                # Numbered now; renamed below once the total is known (-00000-of-00002).
                path = root / f"{repo.data_path(config, split, len(paths), 0)}.partial"
                path.parent.mkdir(parents=True, exist_ok=True)
                paths.append(path)
                writer = pq.ParquetWriter(path, schema)
                in_file = 0
            encoded = [_encode_row(r, features) for r in batch]
            writer.write_table(pa.Table.from_pylist(encoded, schema=schema))
            count += len(batch)
            in_file += len(batch)
    finally:
        if writer is not None:
            writer.close()
    if count == 0:
        raise ValueError(f"{config}/{split}: no rows were produced")
    for i, path in enumerate(paths):
        path.rename(root / repo.data_path(config, split, i, len(paths)))
    return count


def link_config(out_dir: Path, repo: layout.DatasetRepo, config: str, members: list[str], split: str) -> None:
    """A config that concatenates others (MINDS-14's ``all``): their files, hard-linked in order,
    so the rows are the real concatenation without a second copy on disk."""
    root = revision_folder(out_dir, repo)
    files = [f for m in members for f in sorted((root / m / split).glob("*.parquet"))]
    for i, source in enumerate(files):
        target = root / repo.data_path(config, split, i, len(files))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)


GITATTRIBUTES = "*.parquet filter=lfs diff=lfs merge=lfs -text\n*.wav filter=lfs diff=lfs merge=lfs -text\n"


def write_card(out_dir: Path, repo: layout.DatasetRepo, body: str) -> None:
    """The ``main`` revision's card and loading script, and each revision's ``.gitattributes``.

    The card's YAML declares no configs: on ``main`` of a script-based repository the script is
    what datasets finds (and refuses), as on the Hub; a repository pushed as parquet is read by
    the default file patterns (``data/<split>-*``)."""
    main = revision_folder(out_dir, repo, layout.MAIN)
    header = f"---\npretty_name: {repo.hub_id} (offline stand-in)\ntags:\n- course-standin\n---\n\n"
    (main / "README.md").write_text(header + body.strip() + "\n")
    if repo.script:
        (main / repo.script).write_text(
            f"# Stand-in for the loading script of {repo.hub_id}. The real repository holds a `datasets`\n"
            "# loading script here; datasets 5 refuses loading scripts, so the course reads the Hub's\n"
            f"# parquet conversion (revision={repo.revision!r}) instead.\n")
    for revision in {layout.MAIN, repo.revision}:
        (revision_folder(out_dir, repo, revision) / ".gitattributes").write_text(GITATTRIBUTES)
