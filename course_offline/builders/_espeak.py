"""A long-lived espeak-ng process: the ``espeak-ng`` command's samples without its start-up cost.

The command spends ~19 CPU-ms a call before it says a word, half of it in the kernel (it maps
35 shared libraries and reads ~400 voice files; ``strace -c``), several times the synthesis of a
short phrase. This worker loads ``libespeak-ng`` once, initialises it as the command does
(espeak-ng's ``src/espeak-ng.c``: synchronous output, the voice list) and then, for each phrase,
forks a child from that state which sets the voice, rate and pitch and reads the text as the
command's ``fgets`` loop does. About 6 ms a call instead of 19 (measured, empty text).

Why a fork per phrase: state leaks from one phrase into the next inside the library (phrases
after other voices came out up to 1.5 % longer or shorter; re-initialising does not reset it),
so only a fresh copy of the initialised state gives the command's samples, which
``tests/test_speech_corpora.py`` checks. A crash or hang costs one phrase, as with the command.

Run as a script, this file is the worker; ``Worker`` is the client the speech corpora use.
``$COURSE_ESPEAK_LIB`` names the library file where it is not found; where none loads, the
corpora run the command instead (same samples, slower).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

_FGETS_MAX = 1000  # the command reads stdin with fgets(p_text, 1000, stdin): 999 bytes a piece


def _pieces(text: bytes) -> list[bytes]:
    """The pieces the command synthesises one by one: lines (newline kept), cut at 999 bytes."""
    out = []
    while text:
        end = min(text.find(b"\n") + 1 or len(text), _FGETS_MAX - 1)
        out.append(text[:end])
        text = text[end:]
    return out


# --- the worker (run as a script) ----------------------------------------------------------------


def _serve() -> None:  # pragma: no cover - runs in the worker process; tested through Worker
    import ctypes
    import ctypes.util

    # The protocol owns the real stdout; anything the C library prints goes to stderr instead.
    proto = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        lib = ctypes.CDLL(os.environ.get("COURSE_ESPEAK_LIB") or ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1")
        lib.espeak_ng_InitializePath(None)
        if lib.espeak_ng_Initialize(None) != 0 or lib.espeak_ng_InitializeOutput(1, 0, None) != 0:  # 1: synchronous
            raise OSError("espeak-ng failed to initialise")
    except OSError as error:
        proto.write(json.dumps({"error": f"cannot load libespeak-ng: {error}"}).encode() + b"\n")
        return
    samples: list[bytes] = []

    @ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
    def on_samples(wav, n, events):
        if wav and n > 0:
            samples.append(ctypes.string_at(wav, 2 * n))
        return 0

    lib.espeak_SetSynthCallback(on_samples)
    lib.espeak_ListVoices(None)  # the voice list the command builds on every call, built once
    proto.write(b'{"ready": true}\n')
    proto.flush()
    for line in sys.stdin.buffer:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            if sys.platform.startswith("linux"):
                ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL: never outlive the worker
            os._exit(_synth_child(lib, samples, json.loads(line), os.fdopen(write_end, "wb")))
        os.close(write_end)
        with os.fdopen(read_end, "rb") as child:
            reply = child.read()
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0 or not reply:
            reply = json.dumps({"error": f"the espeak-ng library failed on this phrase (exit status {code})"}).encode() + b"\n"
        proto.write(reply)
        proto.flush()


def _synth_child(lib, samples: list, req: dict, out) -> int:  # pragma: no cover - in the forked child
    import ctypes

    name = req["voice"].encode()
    if lib.espeak_SetVoiceByName(name) != 0:
        # The command's fallback: the name as a language. Voice.check() refuses such names first.
        class Voice(ctypes.Structure):
            _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_char_p), ("identifier", ctypes.c_char_p),
                        ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                        ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]

        if lib.espeak_SetVoiceByProperties(ctypes.byref(Voice(languages=name))) != 0:
            out.write(json.dumps({"error": f"Failed to read voice '{req['voice']}'"}).encode() + b"\n")
            out.close()
            return 0
    lib.espeak_SetParameter(1, int(req["wpm"]), 0)  # espeakRATE
    lib.espeak_SetParameter(3, int(req["pitch"]), 0)  # espeakPITCH
    buf = ctypes.create_string_buffer(_FGETS_MAX)
    for piece in _pieces(req["text"].encode()):
        ctypes.memmove(buf, piece + b"\0", len(piece) + 1)
        # POS_CHARACTER; espeakCHARS_AUTO | espeakPHONEMES | espeakENDPAUSE, the command's flags
        lib.espeak_Synth(buf, _FGETS_MAX, 0, 1, 0, 0x100 | 0x1000, None, None)
    lib.espeak_Synchronize()
    data = b"".join(samples)
    out.write(json.dumps({"rate": lib.espeak_ng_GetSampleRate(), "bytes": len(data)}).encode() + b"\n" + data)
    out.close()
    return 0


# --- the client ----------------------------------------------------------------------------------


class WorkerError(RuntimeError):
    """The worker failed on one phrase (an error, a crash or a timeout); the message says which."""


class CannotStart(WorkerError):
    """The worker cannot run here (no loadable libespeak-ng): use the command instead."""


class Worker:
    """One worker process, started on first use and again after a failure.

    Not thread-safe: give each thread its own. Killed when garbage-collected; a worker whose
    client has gone exits by itself at the end of its stdin."""

    def __init__(self, timeout_s: float = 30.0):
        self.timeout_s = timeout_s
        self.proc: subprocess.Popen | None = None
        self._buf = b""

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        self._buf = b""

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit the worker ends with its stdin anyway
            pass

    def _start(self) -> None:
        # -I: no user site, no PYTHON* variables; the worker needs only the standard library.
        self.proc = subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        try:
            head = json.loads(self._readline(time.monotonic() + self.timeout_s))
        except WorkerError as error:
            self.close()
            raise CannotStart(f"espeak-ng worker did not start: {error}") from error
        if "error" in head:
            self.close()
            raise CannotStart(head["error"])

    def _fill(self, deadline: float) -> None:
        fd = self.proc.stdout.fileno()
        poller = select.poll()  # not select.select: it fails on descriptors past 1023
        poller.register(fd, select.POLLIN)
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            raise WorkerError(f"no answer within {self.timeout_s:.0f} s")
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise WorkerError(f"the worker died (exit code {self.proc.poll()})")
        self._buf += chunk

    def _readline(self, deadline: float) -> bytes:
        while b"\n" not in self._buf:
            self._fill(deadline)
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def _read(self, n: int, deadline: float) -> bytes:
        while len(self._buf) < n:
            self._fill(deadline)
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def synth(self, voice: str, wpm: int, pitch: int, text: str):
        """``(int16 samples, rate)`` as ``espeak-ng -v voice -s wpm -p pitch --stdout`` gives them for
        ``text`` on stdin. Raises ``WorkerError`` (``CannotStart`` if no worker can run here)."""
        import numpy as np

        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self._start()
        deadline = time.monotonic() + self.timeout_s
        try:
            self.proc.stdin.write(json.dumps({"voice": voice, "wpm": wpm, "pitch": pitch, "text": text}).encode() + b"\n")
            head = json.loads(self._readline(deadline))
            data = b"" if "error" in head else self._read(head["bytes"], deadline)
        except WorkerError:
            self.close()  # it hung or died: the next phrase starts a fresh worker
            raise
        except (OSError, ValueError) as error:  # a broken pipe, a garbled reply
            self.close()
            raise WorkerError(f"{type(error).__name__}: {error}") from error
        if "error" in head:  # this phrase failed; the worker is fine
            raise WorkerError(head["error"])
        return np.frombuffer(data, dtype="<i2"), int(head["rate"])


if __name__ == "__main__":
    _serve()
