"""Which world the lessons run in: the Hugging Face Hub, or offline through a local Hub of stand-ins.

Both worlds make the same calls with the same Hub ids (``load_dataset("PolyAI/minds14", ...)``,
``pipeline(model="MIT/...")``). Offline, ``start_world`` points the Hugging Face clients at a
Hub-API server on 127.0.0.1 (``HF_ENDPOINT``) that serves locally built stand-ins under the real
ids, with a Hugging Face cache of its own (``HF_HOME``), so a stand-in never enters the learner's
own cache and nothing waits on a network timeout.

``COURSE_MODE`` is ``hub``, ``offline`` or ``auto`` (default: probe the Hub; ``HF_HUB_OFFLINE=1``
means offline).
"""

from __future__ import annotations

import functools
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["World", "course_mode", "course_size", "data_dir", "hub_reachable", "start_world"]

MODES = ("hub", "offline", "auto")
SIZES = ("tiny", "course")
HUB = "https://huggingface.co"


# --- settings, read from the environment each call (no hidden globals) --------------------------


def course_size() -> str:
    """``COURSE_SIZE``: ``course`` (default, for learners) or ``tiny`` (tests and CI)."""
    size = os.environ.get("COURSE_SIZE", "course").strip().lower()
    if size not in SIZES:
        raise ValueError(f"COURSE_SIZE={size!r}: expected one of {SIZES}")
    return size


def data_dir() -> Path:
    """``$COURSE_DATA``, default ``~/.cache/audio-course``: where the offline world lives."""
    root = os.environ.get("COURSE_DATA")
    if root:
        return Path(root).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "audio-course"


def _replica_endpoint() -> str | None:
    """The local Hub's URL when this process (or its parent) started the offline world."""
    return os.environ.get("COURSE_LOCAL_HUB")


@functools.lru_cache(maxsize=None)
def hub_reachable(endpoint: str = HUB, timeouts: tuple[float, ...] = (3.0, 10.0)) -> bool:
    """Ask the Hub once, then once more with a longer wait; cached for the life of the process.
    Says what it tried when the Hub does not answer."""
    waited = 0.0
    for timeout in timeouts:
        start = time.monotonic()
        try:
            with urllib.request.urlopen(f"{endpoint}/api/models?limit=1", timeout=timeout) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
        waited += time.monotonic() - start
    print(f"The Hub did not answer: {endpoint} ({reason}; {len(timeouts)} tries, {waited:.1f} s in all).\n"
          "  Going offline. To decide yourself: COURSE_MODE=hub (retry the Hub) or COURSE_MODE=offline.")
    return False


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def course_mode() -> str:
    """``"hub"`` or ``"offline"``, from ``COURSE_MODE`` / ``HF_HUB_OFFLINE`` / a probe of the Hub."""
    mode = os.environ.get("COURSE_MODE", "auto").strip().lower()
    if mode not in MODES:
        raise ValueError(f"COURSE_MODE={mode!r}: expected one of {MODES}")
    if mode == "auto" and (_truthy(os.environ.get("HF_HUB_OFFLINE")) or _replica_endpoint()):
        return "offline"
    if mode == "auto":
        endpoint = os.environ.get("HF_ENDPOINT", HUB).rstrip("/")
        return "hub" if hub_reachable(endpoint) else "offline"
    return mode


@dataclass(frozen=True)
class World:
    """Where the Hugging Face clients of this process go."""

    mode: str  # "hub" or "offline"
    endpoint: str
    size: str
    hf_home: str | None = None
    env: dict = field(default_factory=dict)  # what start_world sets in the environment

    @property
    def offline(self) -> bool:
        return self.mode == "offline"

    def __str__(self) -> str:
        if not self.offline:
            return f"Mode: hub - the real checkpoints and datasets, from {self.endpoint}."
        return (f"Mode: offline - a local Hub at {self.endpoint} serves stand-ins under the real ids "
                f"(size '{self.size}', built under {data_dir() / self.size}).\n"
                "  They are synthesised and trained on this machine: NOT the real Hub datasets and models.")


def start_world(quiet: bool = False, *, apply: bool = True) -> World:
    """Decide the world and point the Hugging Face clients at it; call it before importing them.

    Offline, it starts the local Hub (or reuses the one already running) and sets ``HF_ENDPOINT``
    and ``HF_HOME`` for this process and the processes it starts. Running it again is harmless.
    ``apply=False`` leaves this process's environment alone and returns it in ``World.env``, for a
    process that only starts others (``make course``'s runner).
    """
    mode = course_mode()
    if mode == "hub":
        endpoint = os.environ.get("HF_ENDPOINT", HUB).rstrip("/")
        if _replica_endpoint() and endpoint == _replica_endpoint():
            raise RuntimeError(f"COURSE_MODE=hub, but HF_ENDPOINT={endpoint} is the course's local Hub of "
                               "stand-ins. Unset HF_ENDPOINT and COURSE_LOCAL_HUB, or use COURSE_MODE=offline.")
        world = World("hub", endpoint, course_size())
    else:
        from course_offline import local_hub  # the offline world's package, beside this one

        endpoint = local_hub.ensure_running(course_size())
        env = _client_settings(endpoint, local_hub.hf_home(course_size()))
        if apply:
            _point_clients_at(env)
            _explain_a_dead_local_hub(endpoint, local_hub.restart_command(course_size()))
        world = World("offline", endpoint, course_size(), env["HF_HOME"], env)
    if not quiet:
        print(world)
    return world


def _client_settings(endpoint: str, hf_home: Path) -> dict:
    return {"HF_ENDPOINT": endpoint, "HF_HOME": str(hf_home), "COURSE_LOCAL_HUB": endpoint, "COURSE_MODE": "offline",
            "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


def _point_clients_at(settings: dict) -> None:
    endpoint = settings["HF_ENDPOINT"]
    loaded = sys.modules.get("huggingface_hub.constants")
    if loaded is not None and loaded.ENDPOINT.rstrip("/") != endpoint:
        raise RuntimeError(
            f"huggingface_hub was imported before the course chose its world, so it would still go to "
            f"{loaded.ENDPOINT}, not to the local Hub at {endpoint}. Restart the kernel (or the "
            "interpreter) and run the first cell before anything else.")
    os.environ.update(settings)
    # The clients must reach the local Hub: their own offline switches would stop every request.
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.pop(name, None)


def _explain_a_dead_local_hub(endpoint: str, restart: str) -> None:
    """In a notebook, add one line to a traceback that comes from a local Hub that stopped answering."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    def handler(shell, etype, value, tb, tb_offset=None):
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        seen, error = [], value
        while error is not None and error not in seen:  # the exception and what caused it
            seen.append(error)
            error = error.__cause__ or error.__context__
        connection = any(isinstance(e, ConnectionError) or "Connect" in type(e).__name__ for e in seen)
        if connection and not _answers(endpoint):
            print(f"The local Hub at {endpoint} is not answering. Re-run the first cell (it starts it again), "
                  f"or in a terminal: {restart}", file=sys.stderr)

    shell.set_custom_exc((Exception,), handler)


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/api/course-replica", timeout=2):
            return True
    except (urllib.error.URLError, OSError):
        return False
