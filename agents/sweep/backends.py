"""Where cells run: in this process, in a local process pool, or on Ray. Every backend runs the same
:func:`~longplay.agents.sweep.cells.execute_cell`; the scheduler decides what to submit and when.

* :class:`InlineBackend` (``--workers 0``): one cell at a time in this process (debugging; tracebacks stay
  visible in the cell's log).
* :class:`LocalBackend` (the default, ``--workers N``): a ``concurrent.futures.ProcessPoolExecutor`` with the
  ``spawn`` start method (no state inherited from the parent; the same on Linux, macOS and Windows). Workers
  are reused, so imports are paid once per worker, not per cell. A worker that dies (killed, out of memory)
  breaks the pool: every cell that was in it is reported with :class:`WorkerDied`, and the next submission
  starts a fresh pool; the scheduler then resumes those cells from their checkpoints.
* :class:`RayBackend` (``--ray auto`` or ``--ray ADDRESS``, ``pip install 'longplay[distributed]'``): each cell is
  a Ray task. When the workers see the sweep's output folder (one machine, or a shared file system) they work
  in it directly; otherwise the cell's files travel with the task: what it needs to resume goes out, its
  replay, checkpoint and log come back (:func:`pack_folder`, :func:`unpack_folder`).

Stopping a cell: the local pool sends its worker ``SIGINT`` (an LM run then checkpoints and stops, exactly as
after Ctrl-C); Ray cancels the task, which raises the same ``KeyboardInterrupt`` in it.
A pool worker whose sweep was killed stops its cell the same way, then exits.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

from longplay.agents.sweep.cells import Caps, Cell, CellResult, cell_dir, execute_cell, read_state

#: The file in the output folder that tells a Ray worker it sees the driver's folder.
TOKEN_FILE = ".sweep-token"


class WorkerDied(RuntimeError):
    """The process running a cell died (killed, crashed, out of memory); the message says what is known."""


class Backend(Protocol):
    """Runs cells; handles are opaque."""

    name: str
    """``inline``, ``local`` or ``ray``."""

    def default_workers(self) -> int:
        """Cells to run at once when the user does not say."""

    def submit(self, cell: Cell, caps: Caps | None) -> Any:
        """Starts ``cell``; returns a handle."""

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        """The handles that have finished (waits up to ``timeout`` seconds for the first)."""

    def result(self, handle: Any) -> CellResult:
        """The result of a finished handle; raises :class:`WorkerDied` when its process died."""

    def interrupt(self, handle: Any) -> None:
        """Asks a running cell to stop at its next safe point (it then checkpoints)."""

    def close(self, abandon: bool = False) -> None:
        """Releases the workers (``abandon``: without waiting for running cells)."""


# ============================================================================================== inline
class InlineBackend:
    """Runs each cell in this process when the scheduler waits for it (one at a time)."""

    name = "inline"

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out_dir = Path(out_dir)
        self._results: dict[int, CellResult] = {}
        self._pending: dict[int, tuple[Cell, Caps | None]] = {}
        self._next = 0

    def default_workers(self) -> int:
        return 1

    def submit(self, cell: Cell, caps: Caps | None) -> int:
        self._next += 1
        self._pending[self._next] = (cell, caps)
        return self._next

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        for handle in handles:
            if handle in self._pending:
                cell, caps = self._pending.pop(handle)
                self._results[handle] = execute_cell(cell, self.out_dir, caps)
                return [handle]
        return [h for h in handles if h in self._results]

    def result(self, handle: Any) -> CellResult:
        return self._results.pop(handle)

    def interrupt(self, handle: Any) -> None:
        self._pending.pop(handle, None)

    def close(self, abandon: bool = False) -> None:
        self._pending.clear()


# ============================================================================================== local pool
#: Set while a pool worker runs a cell.
_cell_running = threading.Event()


def _worker_init() -> None:
    """Pool workers ignore Ctrl-C while idle (the parent decides); a cell's run re-enables it. Each worker
    watches its sweep (:func:`_exit_with_parent`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="longplay-sweep-parent",
                     daemon=True).start()


def _exit_with_parent(parent: int, poll: float = 1.0) -> None:
    """Stops this worker once its sweep is gone (killed: its pool cannot stop it): the running cell gets
    ``SIGINT``, checkpoints and records ``interrupted`` as after Ctrl-C, then the worker exits. Otherwise an
    orphan worker would go on with its cell while a rerun of the sweep resumes the same cell beside it."""
    interrupted = False
    while True:
        time.sleep(poll)
        if os.getppid() == parent:
            continue
        if not _cell_running.is_set():
            os._exit(0)
        if not interrupted:
            os.kill(os.getpid(), signal.SIGINT)
            interrupted = True


def _interrupt_once(signum: int, frame: Any) -> None:
    """The first SIGINT stops the cell (``KeyboardInterrupt``); repeats (the terminal's and the parent's)
    are ignored, so the run can write its checkpoint."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _pool_entry(cell: Cell, out_dir: str, caps: Caps | None) -> CellResult:
    """What a pool worker runs: :func:`execute_cell` with Ctrl-C enabled for the run only."""
    signal.signal(signal.SIGINT, _interrupt_once)
    _cell_running.set()
    try:
        return execute_cell(cell, out_dir, caps)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _cell_running.clear()


class LocalBackend:
    """A local process pool (``spawn``) of ``workers`` processes."""

    name = "local"

    def __init__(self, out_dir: str | os.PathLike[str], workers: int) -> None:
        self.out_dir = str(Path(out_dir).resolve())
        self.workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None
        self._cells: dict[Future[CellResult], Cell] = {}

    def default_workers(self) -> int:
        return self.workers

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is not None and getattr(self._pool, "_broken", False):
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_worker_init)
        return self._pool

    def submit(self, cell: Cell, caps: Caps | None) -> Future[CellResult]:
        try:
            future = self._executor().submit(_pool_entry, cell, self.out_dir, caps)
        except BrokenProcessPool:  # broke between the check and the submission
            self._pool = None
            future = self._executor().submit(_pool_entry, cell, self.out_dir, caps)
        self._cells[future] = cell
        return future

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        done, _ = wait_futures(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, handle: Any) -> CellResult:
        cell = self._cells.pop(handle, None)
        try:
            return handle.result()
        except BrokenProcessPool as exc:
            raise WorkerDied(f"a worker process died ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - e.g. the result could not be sent back
            name = cell.name if cell else "cell"
            raise WorkerDied(f"{name}: {type(exc).__name__}: {exc}") from None

    def interrupt(self, handle: Any) -> None:
        cell = self._cells.get(handle)
        if cell is None or handle.done():
            return
        state = read_state(self.out_dir, cell.id) or {}
        pid = state.get("pid")
        children = {p.pid for p in multiprocessing.active_children()}
        if state.get("status") == "running" and pid in children:  # only ever a worker of this pool
            os.kill(pid, signal.SIGINT)
        else:
            handle.cancel()

    def close(self, abandon: bool = False) -> None:
        if self._pool is None:
            return
        if abandon:
            processes = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                if process.is_alive():
                    process.kill()
            for process in processes:  # dead before the scheduler records the cells abandoned: no heartbeat after
                process.join(5)
        else:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None


# ============================================================================================== ray
def pack_folder(folder: str | os.PathLike[str]) -> dict[str, bytes]:
    """Every file under ``folder`` as relative path -> bytes (what travels with a Ray task)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def unpack_folder(files: dict[str, bytes], folder: str | os.PathLike[str]) -> None:
    """Replaces the contents of ``folder`` with ``files`` (from :func:`pack_folder`)."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    for name, data in files.items():
        path = (folder / name).resolve()
        if folder.resolve() not in path.parents:
            raise ValueError(f"refusing to write {name!r} outside {folder}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def shared_folder(out_dir: str | os.PathLike[str], token: str) -> bool:
    """True when ``out_dir`` here is the driver's output folder (it holds the sweep's token)."""
    try:
        return (Path(out_dir) / TOKEN_FILE).read_text().strip() == token
    except OSError:
        return False


def remote_root(token: str) -> Path:
    """Where a worker that cannot see the output folder runs cells. The same path on every node, so the
    absolute paths a checkpoint records stay valid when the cell resumes on another node."""
    return Path(tempfile.gettempdir()) / "longplay-sweep" / token


def run_cell_task(cell: Cell, out_dir: str, token: str, caps: Caps | None,
                  files: dict[str, bytes]) -> tuple[CellResult, dict[str, bytes] | None]:
    """The body of a Ray task: :func:`execute_cell` in the shared output folder, or, on a node that cannot
    see it, in :func:`remote_root` with the cell's ``files``; then the files come back (``None`` when shared).
    """
    if shared_folder(out_dir, token):
        return execute_cell(cell, out_dir, caps), None
    root = remote_root(token)
    folder = cell_dir(root, cell.id)
    unpack_folder(files, folder)
    try:
        result = execute_cell(cell, root, caps)
        return result, pack_folder(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


#: What an HTTP/2 client sends first (the connection preface and an empty SETTINGS frame): a gRPC server, which
#: Ray's GCS and its client server are, answers with a SETTINGS frame of its own.
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def check_ray_address(address: str, timeout: float = 10.0) -> None:
    """Raises :class:`ConnectionError` when nothing accepts a connection at ``address`` (``HOST:PORT`` or
    ``ray://HOST:PORT``), or when what does is not a gRPC server (a web server, the Ray dashboard's port): Ray
    itself retries for minutes either way, logging as it goes. Other forms, and TLS (``RAY_USE_TLS``), whose
    handshake comes first, are left to Ray."""
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not port.isdigit():
        return
    if not 0 < int(port) < 65536:  # create_connection wraps a larger one round to another port
        raise ConnectionError(f"invalid port {port} in {address!r}: a port is 1..65535")
    host = host.strip("[]")
    try:
        conn = socket.create_connection((host, int(port)), timeout=timeout)
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {host}:{port} ({exc.strerror or exc})") from None
    if os.environ.get("RAY_USE_TLS", "0").lower() not in ("0", "false", ""):
        conn.close()
        return
    reply = b""
    with conn:
        try:
            conn.sendall(_HTTP2_PREFACE)
            while len(reply) < 9:  # a frame header: length (3 bytes), type (1), flags (1), stream (4)
                chunk = conn.recv(9 - len(reply))
                if not chunk:
                    break
                reply += chunk
        except OSError:
            pass
    if len(reply) < 9 or reply[3] != 0x4:
        raise ConnectionError(f"{host}:{port} answers but is not a Ray server (no gRPC there): use the address "
                              "'ray start --head' prints (HOST:6379 by default) or ray://HOST:10001 (Ray Client)")


class RayBackend:
    """Cells as Ray tasks, on a local Ray instance (``address="auto"``: the running one, else a new one) or a
    cluster (``address``: ``HOST:PORT`` or ``ray://HOST:10001``). An already initialised Ray is used as is."""

    name = "ray"

    def __init__(self, out_dir: str | os.PathLike[str], address: str = "auto", num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise RuntimeError("--ray needs Ray: pip install 'longplay[distributed]'") from None
        self.ray = ray
        self.out_dir = Path(out_dir).resolve()
        self.token = uuid.uuid4().hex
        (self.out_dir / TOKEN_FILE).write_text(self.token + "\n")
        self._started = False
        if not ray.is_initialized():
            # no dashboard UI: fewer processes to outlive a sweep killed outright (docs/sweeps.md says what to end)
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address == "auto":
                try:  # a Ray instance running on this machine (ray start), as it is: Ray refuses num_cpus then
                    ray.init(address="auto", **kwargs)
                except ConnectionError:  # none: start one
                    ray.init(num_cpus=num_cpus, **kwargs)
            else:
                check_ray_address(address)
                ray.init(address=address, **kwargs)
            self._started = True
        # Retries are the scheduler's (it resumes a cell from its checkpoint once after a crash).
        self._remote = ray.remote(num_cpus=1, max_retries=0)(run_cell_task)
        self._cells: dict[Any, Cell] = {}

    def default_workers(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def submit(self, cell: Cell, caps: Caps | None) -> Any:
        files = pack_folder(cell_dir(self.out_dir, cell.id))
        files.pop("log.txt", None)
        ref = self._remote.remote(cell, str(self.out_dir), self.token, caps, files)
        self._cells[ref] = cell
        return ref

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        done, _ = self.ray.wait(handles, num_returns=1, timeout=timeout)
        return done

    def result(self, handle: Any) -> CellResult:
        from ray.exceptions import RayError, TaskCancelledError

        cell = self._cells.pop(handle)
        try:
            result, files = self.ray.get(handle)
        except TaskCancelledError:
            return CellResult(cell.id, "interrupted", error="cancelled before it started")
        except RayError as exc:
            raise WorkerDied(" ".join(str(exc).split())[:300]) from None
        if files is not None:
            folder = cell_dir(self.out_dir, cell.id)
            log = (folder / "log.txt").read_bytes() if (folder / "log.txt").exists() else b""
            files["log.txt"] = log + files.get("log.txt", b"")
            unpack_folder(files, folder)
        return result

    def interrupt(self, handle: Any) -> None:
        if handle in self._cells:
            self.ray.cancel(handle, force=False)

    def close(self, abandon: bool = False) -> None:
        if abandon:
            for ref in list(self._cells):
                self.ray.cancel(ref, force=True)
        if self._started:
            self.ray.shutdown()
        (self.out_dir / TOKEN_FILE).unlink(missing_ok=True)
