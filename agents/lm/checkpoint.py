"""Checkpoints of LM runs, and resuming a run into the same replay.

A checkpoint is written at a turn boundary (every N turns, at every milestone, and when the run stops) to
``<replay>.ckpt`` next to the replay, replacing the previous one atomically. It holds the env id and
kwargs, the seed, the start state (if the run began from one), every action pressed (one byte each,
compressed), the game's save state, state hash (to check the rebuilt game against) and identity (the options
that rebuild it as it hashed: ``options_from_recording``), and the loop's
state: the conversation, the scaffold's memory, the seen map, the provider's state (the offline model's),
the counters and the config. The replay is committed at the same moment, so the checkpoint and the replay
agree.

Resuming (``longplay run --agent lm --resume RUN``, see ``cli.run_lm``) rebuilds the env by pressing the
actions again from the reset (the game is deterministic; the state hash proves it), truncates the replay
to the checkpoint (:func:`truncate_replay`: a run that died after it recorded steps and turns that will be
played again), and continues the same replay file (:func:`reopen_recorder`)."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym

from longplay.agents.lm.messages import Usage
from longplay.replays.files import write_atomically
from longplay.replays.schema import to_json

if TYPE_CHECKING:
    from longplay.agents.lm.config import BudgetConfig
    from longplay.agents.lm.loop import LMRun

FORMAT = "longplay-lm-checkpoint"
VERSION = 1
SUFFIX = ".ckpt"


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message is one line."""


def checkpoint_path(replay_path: str | os.PathLike[str]) -> Path:
    """Where the checkpoint of a replay goes: the same name with ``.ckpt``."""
    return Path(replay_path).with_suffix(SUFFIX)


def find_checkpoint(run: str, runs_dir: str | os.PathLike[str] = "runs") -> Path:
    """The checkpoint of ``run``: a checkpoint or replay path, or a run name in ``runs_dir``."""
    candidates = []
    for base in (Path(run), Path(runs_dir) / run):
        candidates += [base, base.with_suffix(SUFFIX), Path(f"{base}{SUFFIX}")]
    for candidate in candidates:
        if candidate.suffix == SUFFIX and candidate.is_file():
            return candidate
    raise CheckpointError(
        f"no checkpoint for run {run!r} (looked for {checkpoint_path(run)} and in {runs_dir}/)"
    )


class CheckpointStore:
    """Writes checkpoints of one run (see the module docstring).

    Args:
        path: The checkpoint file.
        env_id, env_kwargs: How to make the env again.
        replay: The replay file, or ``None``.
        recorder: The recorder to commit at each checkpoint, or ``None``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        env_id: str,
        env_kwargs: dict[str, Any],
        replay: str | os.PathLike[str] | None,
        recorder: Any = None,
    ) -> None:
        self.path = Path(path)
        self.env_id = env_id
        self.env_kwargs = env_kwargs
        self.replay = None if replay is None else str(replay)
        self.recorder = recorder
        self.saved = 0
        self.last_reason = ""

    def save(self, run: LMRun, reason: str) -> None:
        """Commits the replay and writes the checkpoint of ``run`` atomically."""
        if self.recorder is not None:
            self.recorder.flush()
        game = run.driver.game
        data = {
            "format": FORMAT,
            "version": VERSION,
            "reason": reason,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "env_id": self.env_id,
            "env_kwargs": self.env_kwargs,
            "replay": None if self.replay is None else os.path.relpath(self.replay, self.path.parent),
            "seed": run.config.seed,
            "steps": run.driver.steps,
            "actions": base64.b64encode(zlib.compress(bytes(run.driver.actions), 9)).decode("ascii"),
            "state_hash": game.state_hash().hex(),
            "identity": json.loads(to_json(game.identity())),  # rebuilds the game as it hashed (none: from before)
            "game_state": base64.b64encode(zlib.compress(game.save_state(), 6)).decode("ascii"),
            "start_state": _encoded_start_state(run.driver.reset_options),
            "terminated": run.driver.terminated,
            "truncated": run.driver.truncated,
            "run": run.state_dict(),
        }
        blob = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, lambda partial: partial.write_bytes(blob))
        self.saved += 1
        self.last_reason = reason


def _encoded_start_state(options: dict[str, Any] | None) -> str | None:
    """The run's start state (``options["state"]``) as the checkpoint keeps it: base64 of its zlib, or None."""
    state = (options or {}).get("state")
    return None if state is None else base64.b64encode(zlib.compress(bytes(state), 6)).decode("ascii")


def checkpoint_reset_options(data: dict[str, Any]) -> dict[str, Any] | None:
    """The reset options the checkpointed run started with (``{"state": bytes}``), or None."""
    encoded = data.get("start_state")
    return None if encoded is None else {"state": zlib.decompress(base64.b64decode(encoded))}


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads a checkpoint; :class:`CheckpointError` with one line if it is not a usable one."""
    path = Path(path)
    try:
        data = json.loads(zlib.decompress(path.read_bytes()))
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror}") from None
    except (zlib.error, ValueError):
        raise CheckpointError(f"not a longplay checkpoint: {path}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"not a longplay checkpoint: {path}")
    if int(data.get("version", 0)) > VERSION:
        raise CheckpointError(
            f"{path} is a version {data['version']} checkpoint; this longplay reads up to "
            f"{VERSION}: upgrade longplay"
        )
    if data.get("replay"):
        data["replay"] = str(_replay_beside(path, data["replay"]))
    return data


def _replay_beside(checkpoint: Path, replay: str) -> Path:
    """Where the replay a checkpoint names is now: checkpoints store it relative to their own folder, so a
    moved or copied runs folder resumes; an absolute path (older checkpoints) that no longer exists falls
    back to the file of the same name beside the checkpoint."""
    named = Path(replay)
    if not named.is_absolute():
        return checkpoint.parent / named
    beside = checkpoint.parent / named.name
    return beside if not named.exists() and beside.exists() else named


def checkpoint_actions(data: dict[str, Any]) -> bytes:
    """The actions pressed up to the checkpoint."""
    return zlib.decompress(base64.b64decode(data["actions"]))


def resimulate(env: gym.Env, seed: int, actions: bytes,
               options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any], bool, bool]:
    """Resets ``env`` with ``seed`` (and ``options``: a start state) and presses ``actions``; returns the last
    (obs, info, terminated, truncated)."""
    obs, info = env.reset(seed=seed, options=options)
    terminated = truncated = False
    for action in actions:
        obs, _, terminated, truncated, info = env.step(action)
    return obs, info, bool(terminated), bool(truncated)


# ============================================================================================ replay


#: What the model calls logged after a checkpoint spent: (rows, their tokens summed, dollars). A resume plays
#: those turns again, but their spending was real.
Discarded = tuple[int, Usage, float]
NOTHING_DISCARDED: Discarded = (0, Usage(), 0.0)


def truncate_replay(
    path: str | os.PathLike[str], steps: int, turns: int, memory: int, resume: dict[str, Any],
    budget: BudgetConfig | None = None, config: dict[str, Any] | None = None,
) -> Discarded:
    """Cuts a one-episode replay back to ``steps`` actions, ``turns`` turn rows and ``memory`` memory rows,
    reopens its episode, and notes the resume in the header's ``resumes`` list. ``budget``, when given, becomes
    the header's ``budget`` and ``config``, when given, its ``config`` (as the header records it): a resume may
    raise or lift the run's limits and change its timeout and retries, and the header says the run's settings
    now, the checkpoint's (readers size a live run's quiet time by its timeout: ``compare.recording_window_s``).

    The turn rows past ``turns`` (model calls made after the checkpoint, by a run that then died) are replaced
    by one row at step ``steps`` that holds their tokens and cost, marked by its ``error``, ``extra.kind``
    ``"discarded"`` and ``extra.discarded_calls``: every sum over the turns table (a run's cost, ``compare``'s
    dollars axis, the viewer, a sweep's budget) keeps counting money that was spent. Returns what they spent
    (see :data:`Discarded`), which the resumed run adds to its counters (with the row: ``logged_turns`` + 1)."""
    from longplay.replays.schema import fingerprint_spacing, read_header

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        episodes = conn.execute("SELECT count(*) FROM episodes").fetchone()[0]
        if episodes != 1:
            raise CheckpointError(f"{path} has {episodes} episodes; only one-episode LM runs can be resumed")
        every = fingerprint_spacing(read_header(conn, path), path)
        conn.execute("BEGIN")
        for first, _, actions, rewards, fingerprints in conn.execute(
            "SELECT first_step, n_steps, actions, rewards, fingerprints FROM chunks WHERE episode = 0 AND "
            "first_step < ? AND first_step + n_steps > ?",
            (steps, steps),
        ).fetchall():
            keep = steps - first  # a chunk straddles the checkpoint: cut it
            cut = zlib.decompress(actions)[:keep]
            if fingerprints is not None:
                # One byte per multiple of ``every`` among steps first + 1 .. steps (every step in version 1):
                # the reader refuses a chunk holding more.
                fingerprints = zlib.compress(zlib.decompress(fingerprints)[: steps // every - first // every], 6)
            new_rewards = None
            if rewards is not None:
                raw = zlib.decompress(rewards)
                import struct

                entries = [e for e in struct.iter_unpack("<Id", raw) if e[0] < keep]
                new_rewards = (
                    zlib.compress(b"".join(struct.pack("<Id", *e) for e in entries)) if entries else None
                )
            conn.execute(
                "UPDATE chunks SET n_steps = ?, actions = ?, rewards = ?, fingerprints = ? "
                "WHERE episode = 0 AND first_step = ?",
                (keep, zlib.compress(cut, 6), new_rewards, fingerprints, first),
            )
        conn.execute("DELETE FROM chunks WHERE episode = 0 AND first_step >= ?", (steps,))
        have = conn.execute("SELECT coalesce(sum(n_steps), 0) FROM chunks WHERE episode = 0").fetchone()[0]
        if have != steps:
            raise CheckpointError(
                f"{path} holds {have} steps but the checkpoint needs {steps}: the replay and the "
                "checkpoint do not belong together"
            )
        for table in ("checkpoints", "keyframes", "milestones"):
            conn.execute(f"DELETE FROM {table} WHERE episode = 0 AND step > ?", (steps,))
        spent = conn.execute(
            "SELECT count(*), coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0), "
            "coalesce(sum(tokens_cache_read), 0), coalesce(sum(tokens_cache_write), 0), coalesce(sum(cost_usd), 0), "
            "max(t) FROM turns WHERE turn > ?", (turns,)).fetchone()
        conn.execute("DELETE FROM turns WHERE turn > ?", (turns,))
        discarded: Discarded = NOTHING_DISCARDED
        if spent[0] and any(spent[1:6]):
            calls, dollars = int(spent[0]), float(spent[5])
            discarded = (calls, Usage(*(int(n) for n in spent[1:5])), dollars)
            conn.execute(
                "INSERT INTO turns (turn, episode, step, t, tokens_in, tokens_out, tokens_cache_read, "
                "tokens_cache_write, cost_usd, error, extra) VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (turns + 1, steps, float(spent[6] or 0.0), *spent[1:5], dollars,
                 f"{calls} model calls made after the checkpoint at step {steps} were lost with the run "
                 "(it was resumed from the checkpoint): what they spent",
                 json.dumps({"kind": "discarded", "discarded_calls": calls})))
            resume = {**resume, "discarded_calls": calls, "discarded_usd": dollars}
        conn.execute("DELETE FROM memory WHERE snapshot > ?", (memory,))
        conn.execute(
            "UPDATE episodes SET end_step = NULL, end_reason = NULL, ended_t = NULL WHERE episode = 0"
        )
        row = conn.execute("SELECT value FROM header WHERE key = 'resumes'").fetchone()
        resumes = json.loads(row[0]) if row else []
        resumes.append(resume)
        rows = [("resumes", resumes), ("status", "recording")]
        if budget is not None:
            rows.append(("budget", budget.limits()))
        if config is not None:
            rows.append(("config", config))
        conn.executemany("INSERT OR REPLACE INTO header VALUES (?, ?)",
                         [(key, json.dumps(value, sort_keys=True)) for key, value in rows])
        conn.execute("COMMIT")
        return discarded
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def reopen_recorder(
    env: gym.Env, path: str | os.PathLike[str], *, steps: int, turns: int, memory: int, seconds: float,
    note: dict[str, Any] | None = None, budget: BudgetConfig | None = None, config: dict[str, Any] | None = None,
) -> tuple[Any, Discarded]:
    """A :class:`~longplay.replays.recorder.Recorder` around ``env`` (already at step ``steps``) that
    continues the replay at ``path``, truncated first to the checkpoint, and what the model calls made after
    the checkpoint spent (see :func:`truncate_replay`). ``note`` joins the header's entry for this resume;
    ``budget`` and ``config`` replace the header's."""
    from longplay.replays.recorder import Recorder, lock_replay
    from longplay.replays.schema import ReplayError

    path = Path(path)
    held = None
    try:
        held = lock_replay(path)  # not the replay of a run still going: cutting it would mix two runs' steps
        discarded = truncate_replay(
            path,
            steps,
            turns,
            memory,
            {
                "at_step": steps,
                "turn_rows": turns,
                "memory_rows": memory,
                "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                **(note or {}),
            },
            budget,
            config,
        )
        # The recorder takes the lock over: released and taken again, another run could have begun in between.
        lock, held = held, None
        return Recorder.resume(env, path, step=steps, seconds=seconds, lock=lock), discarded
    except (ReplayError, sqlite3.DatabaseError) as exc:
        raise CheckpointError(f"cannot continue the replay {path}: {exc}") from None
    finally:
        if held is not None:
            held.release()
