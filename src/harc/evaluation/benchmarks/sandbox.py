"""Run untrusted Python (model-written code) in a separate, restricted process.

Best effort, NOT a security boundary: the child is ``sys.executable -I`` in its own session and
a fresh temporary directory (its cwd, HOME and TMPDIR), with a stripped environment whose proxy
variables point at a closed port, and ``resource`` limits on address space, CPU time, file
size and core dumps. Before the program runs, a guard inside the child disables process,
network and destructive file-system functions (``os.system``, ``subprocess.Popen``,
``socket.socket``, ``shutil.rmtree``, ``os.fork``/``kill``/``exec*``, ...) and makes ``open``,
``os.open`` and the ``os`` write/rename/remove functions refuse paths outside the temporary
directory. The whole process group is killed when the wall-clock timeout expires.

A program passes only if it runs to the end: the guard prints a per-run random marker after the
program returns, so ``sys.exit(0)`` or ``os._exit(0)`` half-way does not count as a pass.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_GUARD = r"""
import builtins, io, os, resource, shutil, socket, subprocess, sys

def _main():
    root, memory, cpu = os.path.realpath(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    marker = sys.stdin.readline().strip()
    for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_DATA, memory),
                         (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_FSIZE, 16 * 2**20),
                         (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass

    def inside(path):
        if isinstance(path, int):
            return True
        full = os.path.realpath(os.path.join(root, os.fsdecode(os.fspath(path))))
        return full == root or full.startswith(root + os.sep)

    def refuse(name):
        def blocked(*args, **kwargs):
            raise PermissionError(f"{name} is disabled in the sandbox")
        return blocked

    def confine(name, function, count=1):
        def guarded(*args, **kwargs):
            if not all(inside(p) for p in args[:count]):
                raise PermissionError(f"{name} outside the sandbox directory is not allowed")
            return function(*args, **kwargs)
        return guarded

    real_open, real_os_open = builtins.open, os.open
    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(flag in str(mode) for flag in "wax+") and not inside(file):
            raise PermissionError(f"writing {file!r} outside the sandbox directory is not allowed")
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & writes and not inside(path):
            raise PermissionError(f"writing {path!r} outside the sandbox directory is not allowed")
        return real_os_open(path, flags, *args, **kwargs)

    builtins.open = io.open = guarded_open
    os.open = guarded_os_open
    for name in ("remove", "unlink", "rmdir", "removedirs", "mkdir", "makedirs", "chmod",
                 "chown", "lchown", "truncate", "utime", "mkfifo", "mknod", "chdir"):
        if hasattr(os, name):
            setattr(os, name, confine(name, getattr(os, name)))
    for name in ("rename", "renames", "replace", "link", "symlink"):
        setattr(os, name, confine(name, getattr(os, name), count=2))
    for name in ("system", "popen", "fork", "forkpty", "kill", "killpg", "setuid", "putenv",
                 "unsetenv", "chroot", "fchdir", "fchmod", "fchown", "posix_spawn",
                 "posix_spawnp", "execl", "execle", "execlp", "execlpe", "execv", "execve",
                 "execvp", "execvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv",
                 "spawnve", "spawnvp", "spawnvpe"):
        if hasattr(os, name):
            setattr(os, name, refuse("os." + name))
    for name in ("rmtree", "move", "chown", "copytree", "copyfile", "copy", "copy2"):
        setattr(shutil, name, refuse("shutil." + name))
    for name in ("Popen", "run", "call", "check_call", "check_output", "getoutput",
                 "getstatusoutput"):
        setattr(subprocess, name, refuse("subprocess." + name))
    for name in ("socket", "create_connection", "create_server", "socketpair", "fromfd"):
        setattr(socket, name, refuse("socket." + name))

    with real_open(os.path.join(root, "program.py"), encoding="utf-8") as handle:
        source = handle.read()
    code = compile(source, "program.py", "exec")
    exec(code, {"__name__": "__main__", "__builtins__": builtins})
    sys.stdout.write("\n" + marker + "\n")
    sys.stdout.flush()

_main()
"""


@dataclass(frozen=True)
class ExecutionResult:
    status: str  # "passed", "failed" or "timeout"
    returncode: int | None
    stdout: str
    stderr: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def run_program(
    program: str, *, timeout: float = 5.0, memory_mb: int = 1024, output_chars: int = 2000
) -> ExecutionResult:
    """Execute ``program`` in a sandboxed child; ``passed`` if it runs to the end without error."""
    marker = f"HARC-SANDBOX-OK-{secrets.token_hex(16)}"
    with (
        tempfile.TemporaryDirectory(prefix="harc-sandbox-") as workdir,
        tempfile.TemporaryDirectory(prefix="harc-sandbox-logs-") as logdir,
    ):
        root = os.path.realpath(workdir)
        Path(root, "program.py").write_text(program, encoding="utf-8")
        out_path, err_path = Path(logdir, "stdout"), Path(logdir, "stderr")
        with out_path.open("wb") as out, err_path.open("wb") as err:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-I",
                    "-c",
                    _GUARD,
                    root,
                    str(memory_mb * 2**20),
                    str(max(1, int(timeout) + 1)),
                ],
                cwd=root,
                env=_environment(root),
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            try:
                process.communicate((marker + "\n").encode(), timeout=timeout)
                status = None
            except subprocess.TimeoutExpired:
                status = "timeout"
            finally:
                _kill_group(process)
                process.wait()
        stdout = _tail(out_path, output_chars + len(marker) + 2)
        stderr = _tail(err_path, output_chars)
    if status is None:
        finished = process.returncode == 0 and stdout.rstrip().endswith(marker)
        status = "passed" if finished else "failed"
    stdout = stdout.replace(marker, "").rstrip()[-output_chars:]
    return ExecutionResult(status, process.returncode, stdout, stderr)


def _tail(path: Path, chars: int) -> str:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4 * chars))
        return handle.read().decode("utf-8", errors="replace")[-chars:]


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _environment(root: str) -> dict[str, str]:
    closed = "http://127.0.0.1:9"
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": root,
        "TMPDIR": root,
        "LANG": "C.UTF-8",
        "http_proxy": closed,
        "https_proxy": closed,
        "HTTP_PROXY": closed,
        "HTTPS_PROXY": closed,
        "all_proxy": closed,
        "ALL_PROXY": closed,
        "no_proxy": "",
        "NO_PROXY": "",
        "OMP_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
    }
