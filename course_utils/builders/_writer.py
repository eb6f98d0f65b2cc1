"""Writing a stand-in dataset folder that ``datasets.load_dataset(folder, config, split=...)`` reads.

Layout (the same as the Hub's parquet conversion):

    <out_dir>/README.md                      dataset card; its YAML lists configs and splits
    <out_dir>/<config>/<split>-00000-of-0000N.parquet

The Hub dataset's ``Features`` are embedded in each parquet file's schema, so ``load_dataset``
returns the same columns, feature types and ClassLabel names as the real dataset. Rows are
streamed to disk in small batches: a 30-s-clip corpus never has to fit in memory.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

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


def write_split(out_dir: Path, config: str, split: str, rows: Iterable[dict], features) -> int:
    """Stream ``rows`` into ``<out_dir>/<config>/<split>-*.parquet``; returns the row count."""
    folder = out_dir / config
    folder.mkdir(parents=True, exist_ok=True)
    schema = features.arrow_schema
    count, part, writer, in_file = 0, 0, None, 0
    paths: list[Path] = []
    try:
        for batch in _batches(rows, ROWS_PER_BATCH):
            if writer is None or in_file >= ROWS_PER_FILE:
                if writer is not None:
                    writer.close()
                path = folder / f"{split}-{part:05d}.parquet"
                paths.append(path)
                writer = pq.ParquetWriter(path, schema)
                part, in_file = part + 1, 0
            encoded = [_encode_row(r, features) for r in batch]
            writer.write_table(pa.Table.from_pylist(encoded, schema=schema))
            count += len(batch)
            in_file += len(batch)
    finally:
        if writer is not None:
            writer.close()
    if count == 0:
        raise ValueError(f"{config}/{split}: no rows were produced")
    # Name the files like the Hub does (-00000-of-00002) now that the total is known.
    for i, path in enumerate(paths):
        path.rename(folder / f"{split}-{i:05d}-of-{len(paths):05d}.parquet")
    return count


def write_card(out_dir: Path, configs: dict[str, list[str]], body: str, combined: dict[str, list[str]] | None = None) -> None:
    """README.md whose YAML maps each config and split to its files.

    ``configs``: {config: [splits]} written by ``write_split``; ``combined``: {config: [member
    configs]} for configs such as MINDS-14's ``all`` that concatenate others; it offers every
    split that any member has.
    """
    lines = ["---", "configs:"]
    for config, splits in configs.items():
        lines.append(f"- config_name: {config}")
        lines.append("  data_files:")
        for split in splits:
            lines.append(f"  - split: {split}")
            lines.append(f"    path: {config}/{split}-*.parquet")
    for config, members in (combined or {}).items():
        # Every split any member has, made of the members that have it (FLEURS's test_real
        # exists for only some languages, and `all` must still offer it).
        splits = list(dict.fromkeys(s for m in members for s in configs[m]))
        lines.append(f"- config_name: {config}")
        lines.append("  data_files:")
        for split in splits:
            lines.append(f"  - split: {split}")
            lines.append("    path:")
            for m in members:
                if split in configs[m]:
                    lines.append(f"    - {m}/{split}-*.parquet")
    lines.append("---")
    (out_dir / "README.md").write_text("\n".join(lines) + "\n\n" + body.strip() + "\n")
