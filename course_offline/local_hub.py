"""Start, find and stop the local Hub: the server of ``server.py`` in a process of its own.

One server serves one size of stand-ins (``$COURSE_DATA/<size>``) on 127.0.0.1. Its port is
``COURSE_HUB_PORT``, or else derived from that folder, so a learner's course-size Hub and the
tests' tiny one never meet on one port. A second start finds the running server (it answers
``/api/course-replica`` with the folder it serves) and reuses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib

from course_utils.hub import course_size, data_dir

from .store import Replica, hf_home

__all__ = ["LocalHubError", "ensure_running", "endpoint", "hf_home", "port_for", "running", "stop"]

IDLE_EXIT_S = 12 * 3600  # a forgotten server ends by itself
START_TIMEOUT_S = 60.0


class LocalHubError(RuntimeError):
    """The local Hub cannot start or answer; the message names the port and the fix."""


def port_for(size: str | None = None) -> int:
    if os.environ.get("COURSE_HUB_PORT"):
        return int(os.environ["COURSE_HUB_PORT"])
    root = str((data_dir() / (size or course_size())).expanduser().resolve())
    return 18000 + zlib.crc32(root.encode()) % 2000


def endpoint(size: str | None = None) -> str:
    return f"http://127.0.0.1:{port_for(size)}"


def restart_command(size: str) -> str:
    return f"COURSE_DATA={data_dir()} python -m course_offline serve --size {size} --port {port_for(size)}"


def running(size: str | None = None) -> dict | None:
    """What the server on this size's port says about itself, or None if nothing listens there.
    Raises ``LocalHubError`` if another program holds the port."""
    url = f"{endpoint(size)}/api/course-replica"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise LocalHubError(f"port {port_for(size)} is taken by another program ({url} answered {error.code}); "
                            "set COURSE_HUB_PORT to a free port") from None
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    except ValueError:
        raise LocalHubError(f"port {port_for(size)} is taken by another program (not the course's local Hub); "
                            "set COURSE_HUB_PORT to a free port") from None


def ensure_running(size: str | None = None, *, quiet: bool = False) -> str:
    """The URL of the local Hub for ``size``, started in the background if none runs."""
    size = size or course_size()
    root = str((data_dir() / size).expanduser().resolve())
    info = running(size)
    if info is not None:
        if info.get("root") != root:
            raise LocalHubError(
                f"port {port_for(size)} serves stand-ins from {info.get('root')}, not {root}. Stop it with "
                f"`python -m course_offline stop --port {port_for(size)}`, or set COURSE_HUB_PORT to another port.")
        return endpoint(size)
    missing = Replica(size).missing()
    if missing and not quiet:
        print(f"[local hub] not built yet at size '{size}' (a lesson that needs them will say so): "
              + ", ".join(m.split(" ", 1)[1] for m in missing))
    log = data_dir() / size / "local-hub.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "course_offline", "serve", "--size", size, "--port", str(port_for(size)),
               "--idle-exit", str(IDLE_EXIT_S)]
    env = {**os.environ, "COURSE_DATA": str(data_dir())}
    with open(log, "ab") as out:
        # Its own session, stdin closed, output to a file: it outlives this process (a notebook's
        # kernel, make) without holding anyone's terminal or pipe open.
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise LocalHubError(f"the local Hub on port {port_for(size)} exited at start ({log}):\n  "
                                + "\n  ".join(tail) + f"\nStart it by hand with: {restart_command(size)}")
        info = running(size)
        if info is not None:
            if not quiet:
                print(f"[local hub] started on {endpoint(size)} (pid {info['pid']}, log {log})")
            return endpoint(size)
        time.sleep(0.2)
    process.kill()
    raise LocalHubError(f"the local Hub on port {port_for(size)} did not answer within {START_TIMEOUT_S:.0f} s "
                        f"({log}). Start it by hand with: {restart_command(size)}")


def stop(size: str | None = None, port: int | None = None) -> bool:
    """Stop the local Hub on ``port`` (default: this size's); True if one was running."""
    import signal

    if port is not None:
        os.environ["COURSE_HUB_PORT"] = str(port)
    info = running(size)
    if info is None:
        return False
    os.kill(int(info["pid"]), signal.SIGTERM)
    for _ in range(50):
        if running(size) is None:
            return True
        time.sleep(0.1)
    return True
