"""Native CPU kernels for the batched engine: the symbolic observation of every env in one pass per env.

On CPU the compiled torch step spends a third of its time observing (16,384 envs: about 7 of 20 ms; inductor
turns the window, the entity grid and the 32-value vector into some 30 loop nests over every env, each reading
the state again). ``native.cpp`` computes the same values env by env, reading each env's state once, with
OpenMP threads (torch's own OpenMP runtime: the library links the ``libgomp`` torch has loaded). It is built on
first use with the system's C++ compiler (``$CXX``, else ``g++``, else ``c++``; the one ``torch.compile`` uses
on CPU) into ``$XDG_CACHE_HOME/longplay/native`` (else ``~/.cache/longplay/native``), one file per source,
compiler and flags, and loaded with ``ctypes``.

``BatchedQuest(native="auto")`` (the default) uses it on CPU for symbolic observations when it builds, and the
torch ops otherwise (CUDA, pixels, no compiler: ``native_reason`` says why); ``native=True`` requires it;
``native=False`` never uses it. The values are exactly the torch ops' (tests compare both on the states of
random and oracle games in every world size).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch

from longplay.envs.quest.batched.state import MON_WIDTH, BatchedState
from longplay.envs.quest.batched.tables import D_, PAD, TILE_ROW
from longplay.envs.quest.constants import PARTY_SIZE, PLAYER_VIEW_X, PLAYER_VIEW_Y, VIEW_H, VIEW_W

SOURCE = Path(__file__).with_name("native.cpp")
FLAGS = ("-O3", "-std=c++17", "-shared", "-fPIC", "-fopenmp")
VECTOR_SIZE = 32


class NativeUnavailable(RuntimeError):
    """The native kernels cannot be built or loaded here (the message says why, in one line)."""


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "longplay" / "native"


def compiler() -> str:
    """The C++ compiler: ``$CXX``, else ``g++``, else ``c++`` on the PATH (:class:`NativeUnavailable` without)."""
    for name in (os.environ.get("CXX"), "g++", "c++"):
        if name and shutil.which(name):
            return name
    raise NativeUnavailable("no C++ compiler found (set CXX, or install g++); the torch ops observe instead")


_LIBRARIES: dict[str, ctypes.CDLL] = {}
_VERSIONS: dict[str, str] = {}


def _compiler_version(cxx: str) -> str:
    """``cxx --version`` (part of a build's cache key), asked once per process and compiler."""
    if cxx not in _VERSIONS:
        try:
            _VERSIONS[cxx] = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError) as e:
            raise NativeUnavailable(f"C++ compiler {cxx!r} does not run: {e}") from None
    return _VERSIONS[cxx]


def load_library(source: str | Path) -> ctypes.CDLL:
    """The shared library built from the C++ file ``source`` (a name beside this module, or a path): built on
    first use into :func:`cache_dir`, one file per source text, compiler and flags, then loaded from there.
    :class:`NativeUnavailable` (one line) when it cannot be built or loaded."""
    path_in = Path(source) if os.sep in str(source) else Path(__file__).with_name(str(source))
    text = path_in.read_bytes()
    cxx = compiler()
    version = _compiler_version(cxx)
    key = hashlib.sha1(text + repr((FLAGS, version)).encode()).hexdigest()[:16]
    if key in _LIBRARIES:
        return _LIBRARIES[key]
    path = cache_dir() / f"{path_in.stem}-{key}.so"
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # built beside its final name and moved there whole: two processes building at once both succeed
            with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
                out = Path(tmp) / path.name
                build = subprocess.run([cxx, *FLAGS, str(path_in), "-o", str(out)], capture_output=True,
                                       text=True, timeout=300)
                if build.returncode != 0:
                    last = (build.stderr.strip().splitlines() or ["no output"])[-1]
                    raise NativeUnavailable(f"building {path_in.name} with {cxx} failed: {last}")
                os.replace(out, path)
        except (OSError, subprocess.SubprocessError) as e:  # a cache folder that cannot be written, a hung build
            raise NativeUnavailable(f"building {path_in.name} into {path.parent} failed: {e}") from None
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as e:
        raise NativeUnavailable(f"loading {path} failed: {e}") from None
    _LIBRARIES[key] = lib
    return lib


def library() -> ctypes.CDLL:
    """The observation kernel's library (:func:`load_library` of ``native.cpp``)."""
    lib = load_library(SOURCE)
    lib.longplay_observe.argtypes = [ctypes.c_void_p]
    lib.longplay_observe.restype = None
    return lib


_SIZES = ("num_envs", "threads", "num_events_cols", "num_done_cols", "party_slots", "party_size", "enemy_slots",
          "mon_width", "bag_cols", "boulder_slots", "num_boulders", "cells", "cells_per_map", "wp", "pad",
          "drawn_rows", "drawn_per_map", "drawn_cols", "badge_cols", "ability_cols", "num_key_items", "view_x",
          "view_y", "d_entity", "d_x", "d_y", "d_key", "d_show", "d_hide", "d_hidden_when_done", "d_boulder_slot")
# the state fields the observation reads, with their dtypes, in the order of native.cpp's struct
_STATE = (("map", torch.int32), ("x", torch.int32), ("y", torch.int32), ("facing", torch.int32),
          ("surfing", torch.bool), ("money", torch.int32), ("party_count", torch.int32), ("party", torch.int32),
          ("box_count", torch.int32), ("bag", torch.int32), ("events", torch.bool), ("done", torch.bool),
          ("boulder_xy", torch.int32), ("ward_steps", torch.int32), ("dialog_texts", torch.int32),
          ("dialog_extras", torch.int32), ("dialog_head", torch.int32), ("menu", torch.int32),
          ("menu_cursor", torch.int32), ("battle_kind", torch.int32), ("enemy_count", torch.int32),
          ("enemy", torch.int32), ("enemy_active", torch.int32), ("player_active", torch.int32),
          ("battle_phase", torch.int32), ("battle_cursor", torch.int32))
_POINTERS = (*(name for name, _ in _STATE), "milestones", "world", "map_base", "tile_rows", "map_drawn",
             "badge_col", "ability_col", "key_items", "tiles", "entities", "vector", "error")


class _Observe(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int64) for name in _SIZES] + [(name, ctypes.c_void_p) for name in _POINTERS]


def _pointer(t: torch.Tensor, dtype: torch.dtype, name: str) -> int:
    if t.dtype != dtype or t.device.type != "cpu" or not t.is_contiguous():
        raise TypeError(f"native observe: {name} must be a contiguous CPU {dtype} tensor, got {t.dtype} "
                        f"{tuple(t.shape)} on {t.device}{'' if t.is_contiguous() else ', not contiguous'}")
    return t.data_ptr()


class NativeObserver:
    """The symbolic observation (``tiles``, ``entities``, ``vector``) of every env of one engine, by the native
    kernel. Holds the engine's tables (its contiguous int32 copies of them); reads the state at each call."""

    def __init__(self, engine: Any) -> None:
        if engine.device.type != "cpu":
            raise NativeUnavailable(f"the engine runs on {engine.device.type} (the native kernels are for the CPU)")
        if engine.obs_mode != "symbolic":
            raise NativeUnavailable(f"obs_mode={engine.obs_mode!r} (the native kernel observes symbolic views)")
        self._lib = library()
        t, cx = engine.tables, engine.ctx
        n = engine.num_envs
        state = engine.state
        # the tables, as the kernel reads them (kept: the kernel holds their addresses only during a call)
        self._tables = {
            "world": cx.world.contiguous(), "map_base": cx.map_base.contiguous(),
            "tile_rows": t.tile_rows.contiguous().view(torch.uint8).view(-1, TILE_ROW),
            "map_drawn": t.map_drawn.contiguous(), "badge_col": t.badge_cols.to(torch.int32).contiguous(),
            "ability_col": t.ability_col.to(torch.int32).contiguous(),
            "key_items": engine._key_items.to(torch.int64).contiguous()}
        tb = self._tables
        self._sizes = dict(
            num_envs=n, threads=1, num_events_cols=state.events.shape[1], num_done_cols=state.done.shape[1],
            party_slots=state.party.shape[1], party_size=PARTY_SIZE, enemy_slots=state.enemy.shape[1],
            mon_width=MON_WIDTH, bag_cols=state.bag.shape[1], boulder_slots=state.boulder_xy.shape[1],
            num_boulders=t.num_boulders, cells=tb["tile_rows"].shape[0], cells_per_map=t.cells_per_map, wp=t.wp,
            pad=PAD, drawn_rows=tb["map_drawn"].shape[0], drawn_per_map=tb["map_drawn"].shape[1],
            drawn_cols=tb["map_drawn"].shape[2], badge_cols=tb["badge_col"].shape[1],
            ability_cols=tb["ability_col"].shape[1], num_key_items=tb["key_items"].shape[0], view_x=PLAYER_VIEW_X,
            view_y=PLAYER_VIEW_Y, **{f"d_{name}": D_[name] for name in ("entity", "x", "y", "key")},
            d_show=D_["show_col"], d_hide=D_["hide_col"], d_hidden_when_done=D_["hidden_when_done"],
            d_boulder_slot=D_["boulder_slot"])
        self._error = torch.zeros(1, dtype=torch.int64)
        # the sizes and tables, set once (a call sets the state's and the outputs' pointers)
        self._args = _Observe(**self._sizes)
        for name, dtype in (("world", torch.int64), ("map_base", torch.int32), ("tile_rows", torch.uint8),
                            ("map_drawn", torch.int32), ("badge_col", torch.int32), ("ability_col", torch.int32),
                            ("key_items", torch.int64)):
            setattr(self._args, name, _pointer(tb[name], dtype, name))
        self._args.error = self._error.data_ptr()

    def observe(self, state: BatchedState, milestones: torch.Tensor) -> dict[str, torch.Tensor]:
        n = self._sizes["num_envs"]
        tiles = torch.empty((n, VIEW_H, VIEW_W), dtype=torch.uint8)
        entities = torch.empty((n, VIEW_H, VIEW_W), dtype=torch.uint8)
        vector = torch.empty((n, VECTOR_SIZE), dtype=torch.float32)
        args = self._args
        args.threads = torch.get_num_threads()
        for name, dtype in _STATE:
            setattr(args, name, _pointer(getattr(state, name), dtype, name))
        args.milestones = _pointer(milestones, torch.int32, "milestones")
        args.tiles, args.entities, args.vector = tiles.data_ptr(), entities.data_ptr(), vector.data_ptr()
        self._lib.longplay_observe(ctypes.byref(args))
        bad = int(self._error[0])
        if bad:
            raise IndexError(f"native observe: env {bad - 1} indexes past a table (map {int(state.map[bad - 1])}, "
                             f"x {int(state.x[bad - 1])}, y {int(state.y[bad - 1])}): its state is corrupt")
        return {"tiles": tiles, "entities": entities, "vector": vector}


class _Say(ctypes.Structure):
    _fields_ = [(name, ctypes.c_void_p) for name in ("mask", "first", "texts", "extra", "extras", "effect", "arg")] \
        + [("extra_cols", ctypes.c_int64)]


_FINISH_STATE = (("dialog_first", torch.int32), ("dialog_texts", torch.int32), ("dialog_extras", torch.int32),
                 ("dialog_head", torch.int32), ("dialog_extra", torch.int64), ("dialog_effect", torch.int32),
                 ("dialog_arg", torch.int32), ("events", torch.bool), ("finished", torch.bool))
_FINISH_BOOKS = ("milestone_mask", "milestones", "episode_return", "episode_length", "episode_limit", "episode")
_FINISH_OUT = ("milestones_out", "episode_return_out", "episode_length_out", "episode_out", "reward", "terminated",
               "truncated", "done", "reached")


class _Finish(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int64) for name in ("num_envs", "threads", "dialog_extra_cols", "num_events_cols",
                                                    "milestone_cols")] + [("say", _Say * 2)] \
        + [(name, ctypes.c_void_p) for name in (*(n for n, _ in _FINISH_STATE), *_FINISH_BOOKS, *_FINISH_OUT)]


_SAY_DTYPES = {"mask": torch.bool, "first": torch.int32, "texts": torch.int32, "extra": torch.int64,
               "extras": torch.int32, "effect": torch.int32, "arg": torch.int32}


class NativeFinish:
    """The end of a CPU step with battle passes by the native kernel (``BatchedQuest._finish_routed``): the
    pages the overworld and the menus asked for queued (``apply_say``), then milestones, rewards and the episodes
    that end (``_end_episodes``), in one pass per env."""

    def __init__(self, engine: Any) -> None:
        if engine.device.type != "cpu":
            raise NativeUnavailable(f"the engine runs on {engine.device.type} (the native kernels are for the CPU)")
        self._lib = library()
        self._lib.longplay_finish.argtypes = [ctypes.c_void_p]
        self._lib.longplay_finish.restype = None
        self._milestone_mask = engine._milestone_mask.contiguous()

    def finish(self, engine: Any, says: tuple[Any, Any]) -> tuple[Any, ...]:
        """Returns ``(reward, terminated, truncated, info, done)`` as ``_end_episodes`` does, with the engine's
        bookkeeping rebound to new tensors (the state's dialog fields are written in place)."""
        s, n = engine.state, engine.num_envs
        columns = self._milestone_mask.shape[1]
        out = {"milestones_out": torch.empty(n, dtype=torch.int32),
               "episode_return_out": torch.empty(n, dtype=torch.float32),
               "episode_length_out": torch.empty(n, dtype=torch.int32),
               "episode_out": torch.empty(n, dtype=torch.int64), "reward": torch.empty(n, dtype=torch.float32),
               "terminated": torch.empty(n, dtype=torch.bool), "truncated": torch.empty(n, dtype=torch.bool),
               "done": torch.empty(n, dtype=torch.bool), "reached": torch.empty((n, columns), dtype=torch.bool)}
        args = _Finish(num_envs=n, threads=torch.get_num_threads(), dialog_extra_cols=s.dialog_extra.shape[1],
                       num_events_cols=s.events.shape[1], milestone_cols=columns)
        kept = []  # converted say arrays, alive until the call returns
        for k, say in enumerate(says):
            fields = {name: getattr(say, name).to(dtype).contiguous() for name, dtype in _SAY_DTYPES.items()}
            kept.append(fields)
            for name, t in fields.items():
                setattr(args.say[k], name, t.data_ptr())
            args.say[k].extra_cols = fields["extra"].shape[1]
        for name, dtype in _FINISH_STATE:
            setattr(args, name, _pointer(getattr(s, name), dtype, name))
        books = {"milestone_mask": self._milestone_mask, "milestones": engine.milestones,
                 "episode_return": engine.episode_return, "episode_length": engine.episode_length,
                 "episode_limit": engine.episode_limit, "episode": engine.episode}
        for name, t in books.items():
            setattr(args, name, _pointer(t, t.dtype, name))
        for name, t in out.items():
            setattr(args, name, t.data_ptr())
        self._lib.longplay_finish(ctypes.byref(args))
        engine.milestones, engine.episode_return = out["milestones_out"], out["episode_return_out"]
        engine.episode_length, engine.episode = out["episode_length_out"], out["episode_out"]
        info: dict[str, Any] = {"episode_return": engine.episode_return.clone(),
                                "episode_length": engine.episode_length.clone(),
                                "milestones": engine.milestones.clone(), "milestones_reached": out["reached"]}
        if engine.final_obs:  # the episodes' last observation, before their reset (milestones counted)
            info["final_obs"] = engine._observe_now()
        return out["reward"], out["terminated"], out["truncated"], info, out["done"]


def optional_kernel(make: Any, engine: Any, native: bool | str) -> tuple[Any, str]:
    """``make(engine)`` (a kernel's class) for ``native`` (``"auto"``, ``True`` or ``False``), and why there is
    none (``""`` when there is one): ``True`` raises :class:`NativeUnavailable` instead."""
    if native is False:
        return None, "native=False"
    try:
        return make(engine), ""
    except NativeUnavailable as e:
        if native is True:
            raise NativeUnavailable(f"BatchedQuest(native=True): {e}") from None
        return None, str(e)


def native_available() -> bool:
    """Whether the native kernels build and load here (built once, then from the cache)."""
    try:
        library()
    except NativeUnavailable:
        return False
    return True


__all__ = ["NativeFinish", "NativeObserver", "NativeUnavailable", "compiler", "library", "load_library",
           "native_available", "optional_kernel"]
