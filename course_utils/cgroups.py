"""The limits a container puts on this process (Binder's, Docker's, a Kubernetes pod's), read from
its cgroups: the memory it may still use and the CPUs its quota allows. ``os.cpu_count()`` and
``/proc/meminfo`` show the host's, which can be far more.

``sizing`` plans model loads with the memory limit; ``training`` sizes torch's threads and the
DataLoader's workers with the CPU quota.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cgroup_cpu_limit", "cgroup_memory_left_gb"]

GB = 1e9


def _int(text: str) -> int | None:
    return None if text in ("", "max") else int(text)  # "max": no limit


def _read_int(path: Path) -> int | None:
    try:
        return _int(path.read_text().strip())
    except OSError:
        return None


def _stat(path: Path, *keys: str) -> int:
    """The first of ``keys`` that ``memory.stat`` has (0 if none)."""
    try:
        values = dict(line.split(" ", 1) for line in path.read_text().splitlines() if " " in line)
        return next((int(values[key]) for key in keys if key in values), 0)
    except (OSError, ValueError):
        return 0


def _cgroup_dirs(root: Path, proc_cgroup: Path, controller: str = "memory") -> list[tuple[Path, str]]:
    """The ``controller`` cgroup folders that bound this process, innermost first, each with its version."""
    found: list[tuple[Path, str]] = []
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, rel = parts
        if controllers == "":  # cgroup v2: "0::/path"
            base, version = root, "v2"
        elif controller in controllers.split(","):  # cgroup v1: "4:memory:/path"
            base, version = root / controller, "v1"
        else:
            continue
        path = base / rel.lstrip("/")
        while True:  # the process's own cgroup and every ancestor up to the mount point
            found.append((path, version))
            if path == base or base not in path.parents:
                break
            path = path.parent
    # Inside a container /proc/self/cgroup often names the host's path; the mount point is then the
    # container's own cgroup.
    found += [(root, "v2"), (root / controller, "v1")]
    seen, out = set(), []
    for path, version in found:
        if (path, version) not in seen and path.is_dir():
            seen.add((path, version))
            out.append((path, version))
    return out


def cgroup_memory_left_gb(root: str | os.PathLike = "/sys/fs/cgroup",
                          proc_cgroup: str | os.PathLike = "/proc/self/cgroup") -> float | None:
    """GB this process may still use under its tightest cgroup memory limit (a container's, such as
    Binder's), or None when no limit applies.

    For each memory cgroup from the process's own up to the mount point: the limit
    (``memory.max`` in cgroup v2, ``memory.limit_in_bytes`` in v1; "max" or a number near 2**63 means
    none) minus the working set, which is the usage (``memory.current`` / ``memory.usage_in_bytes``)
    less the inactive file cache the kernel reclaims first (``memory.stat``: ``inactive_file`` /
    ``total_inactive_file``), as Kubernetes counts it.
    """
    root, left = Path(root), None
    for path, version in _cgroup_dirs(root, Path(proc_cgroup)):
        if version == "v2":
            limit, usage = _read_int(path / "memory.max"), _read_int(path / "memory.current")
            inactive = _stat(path / "memory.stat", "inactive_file")
        else:
            limit, usage = _read_int(path / "memory.limit_in_bytes"), _read_int(path / "memory.usage_in_bytes")
            inactive = _stat(path / "memory.stat", "total_inactive_file", "inactive_file")
        if limit is None or limit >= 2**60:
            continue
        working = max(0, (usage or 0) - inactive)
        here = max(0.0, (limit - working) / GB)
        left = here if left is None else min(left, here)
    return left


def cgroup_cpu_limit(root: str | os.PathLike = "/sys/fs/cgroup",
                     proc_cgroup: str | os.PathLike = "/proc/self/cgroup") -> float | None:
    """CPUs this process may use under its tightest cgroup CPU quota (a container's, such as Binder's),
    or None when no quota applies: ``cpu.max`` ("<quota> <period>" or "max ...") in cgroup v2,
    ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (-1: none) in v1, over the same folders as memory."""
    limit = None
    for path, version in _cgroup_dirs(Path(root), Path(proc_cgroup), "cpu"):
        if version == "v2":
            try:
                text = (path / "cpu.max").read_text().split()
            except OSError:
                continue
            quota, period = (_int(text[0]), _int(text[1])) if len(text) == 2 else (None, None)
        else:
            quota, period = _read_int(path / "cpu.cfs_quota_us"), _read_int(path / "cpu.cfs_period_us")
        if quota is None or period is None or quota <= 0 or period <= 0:
            continue
        limit = quota / period if limit is None else min(limit, quota / period)
    return limit
