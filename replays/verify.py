"""``verify``: re-simulate a replay from its start state and recorded actions, and check every claim in it.

Claimed progress is re-derived, never trusted: the env is rebuilt from the header, each episode is reset
with its recorded seed, the recorded buttons are pressed, and every recorded state hash (checkpoints and
keyframes), state summary (map, position, mode), milestone (which, and at which step), reward (when the recorder
saw the env's own rewards) and episode end is compared with what the game does. The report names the first
place where they part.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from longplay.replays.reader import ACTION_BUTTONS, EnvFactory, ReplayReader
from longplay.replays.recorder import catalog_json
from longplay.replays.schema import CorruptReplayError


def counted(n: int, one: str, many: str | None = None) -> str:
    """``n`` and the word for that many: ``1 keyframe``, ``2 keyframes``, ``0 state hashes``."""
    return f"{n} {one if n == 1 else many or one + 's'}"


@dataclass
class VerifyReport:
    """What :func:`verify` found. ``ok`` is False when any recorded claim is not reproduced."""

    path: Path
    episodes: int = 0
    steps: int = 0
    hashes: int = 0
    keyframes: int = 0
    milestones: int = 0
    rewards: int = 0
    fingerprints: int = 0
    seconds: float = 0.0
    complete: bool = True
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every recorded claim was re-derived."""
        return not self.problems

    def summary(self) -> str:
        """One line for the terminal."""
        if not self.ok:
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            return f"FAIL {self.path}: {self.problems[0]}{more}"
        line = (f"OK {self.path}: {self.steps} steps in {counted(self.episodes, 'episode')} re-simulated; "
                f"{counted(self.hashes, 'state hash', 'state hashes')}, {counted(self.keyframes, 'keyframe')}, "
                f"{counted(self.milestones, 'milestone')} match ({self.seconds:.2f} s)")
        if self.warnings:
            line += f"; warning: {self.warnings[0]}"
        return line


class _Diverged(Exception):
    """Raised inside the stepping loop when a recorded fingerprint differs."""

    def __init__(self, step: int, got: int, recorded: int) -> None:
        super().__init__(step)
        self.step, self.got, self.recorded = step, got, recorded


def _short(digest: bytes | None) -> str:
    return "none" if digest is None else digest.hex()[:12] + ".."


def verify(path: str | os.PathLike[str], *, make_env: EnvFactory | None = None,
           progress: bool = False) -> VerifyReport:
    """Re-simulates the replay at ``path`` and returns a :class:`VerifyReport`.

    Raises :class:`~longplay.replays.schema.ReplayError` (one-line message) when the file cannot be read
    at all: missing, not a replay, a newer format, or a corrupt database.
    """
    start = time.perf_counter()
    # One snapshot of a run still recording: its later commits would claim steps beyond the actions read first.
    with ReplayReader(path, make_env=make_env) as replay, replay.snapshot():
        report = VerifyReport(Path(path))
        replay.check_integrity()
        episodes = replay.episodes()
        if not episodes:
            report.problems.append("the replay holds no episode (the run never reset its env)")
            return report
        if replay.header.get("status") != "closed":
            report.complete = False
            report.warnings.append("the recording was never closed (the run was killed or is still running): "
                                   "verified up to its last commit")
        total = sum(e.recorded_steps for e in episodes)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="step", desc="verify", leave=False)
        try:
            for episode in episodes:
                _verify_episode(replay, episode.episode, len(episodes) > 1, report, bar)
                report.episodes += 1
        finally:
            if bar is not None:
                bar.close()
    report.seconds = time.perf_counter() - start
    return report


def _jsonish(value: Any) -> Any:
    import json

    from longplay.replays.schema import to_json

    return json.loads(to_json(value))


def _verify_episode(replay: ReplayReader, e: int, several: bool, report: VerifyReport, bar: Any) -> None:
    where = (lambda step: f"episode {e} step {step}") if several else (lambda step: f"step {step}")
    info = replay.episode(e)
    actions = replay.actions(e)
    n = len(actions)
    if info.end_step is None:
        report.complete = False
        if not report.warnings:
            report.warnings.append(f"episode {e} was not closed: verified up to step {n}")
    elif info.end_step != n:
        report.problems.append(f"episode {e} is recorded to end at step {info.end_step} but its actions stop at "
                               f"step {n}: the file was truncated or edited")
        return
    checkpoints = replay.checkpoints(e)
    hashes = {c.step: c.hash for c in checkpoints if c.hash is not None}
    summaries = {c.step: s for c in checkpoints if (s := c.summary()) is not None}
    keyframes = replay.keyframe_steps(e)
    recorded = {m.milestone: m.step for m in replay.milestones(e)}
    beyond = [s for s in (*hashes, *summaries, *keyframes, *recorded.values()) if s > n]
    if beyond:
        report.problems.append(f"{where(min(beyond))}: recorded, but the actions stop at step {n}: the file was "
                               "truncated or edited")
        return
    check_rewards = replay.header.get("reward_source") == "env"
    recorded_rewards = replay.rewards(e) if check_rewards else {}
    try:
        game = replay.restart(e)  # the game the reset left in the env: an env may build a new one per episode
    except (CorruptReplayError, ValueError) as exc:  # a start state missing, edited, or refused by the game
        report.problems.append(f"{where(0)}: {exc}")
        return
    # After the reset: a world drawn from the reset seed (longplay/Quest-v0) brings its own catalog; each
    # episode's world (game.identity()) is checked here.
    catalog = game.milestones()
    ids = [m.id for m in catalog]
    weights = [m.weight for m in catalog]
    rebuilt = _jsonish(game.identity())
    if info.identity is not None and rebuilt != info.identity:
        diff = _differing(info.identity, rebuilt, "; ")
        report.problems.append(f"{where(0)}: the world rebuilt here is not the recorded one ({diff}): another "
                               "world, ROM or game version")
        return
    start_hash = game.state_hash()
    if start_hash != info.start_hash:
        report.problems.append(f"{where(0)}: start state hash differs (recorded {_short(info.start_hash)}, "
                               f"re-simulated {_short(start_hash)}): a different world, seed or game version")
        return
    # Only once the world is known to be the recorded one: another env's milestones are not forgeries.
    _check_catalog(replay, e, _jsonish(catalog_json(game)), where(0), report)
    unknown = sorted(set(recorded) - set(ids))
    if unknown:
        report.problems.append(f"{where(recorded[unknown[0]])}: milestone {unknown[0]!r} is recorded but is not in "
                               "this game's catalog (forged or edited)")
        return
    mask = game.milestone_mask()
    reached = {ids[i]: 0 for i in range(len(ids)) if mask >> i & 1}
    rewards: dict[int, float] = {}
    problems: list[tuple[int, str]] = []
    press, milestone_mask, buttons = game.press, game.milestone_mask, ACTION_BUTTONS
    fingerprints = replay.fingerprints(e) if callable(getattr(game, "fingerprint", None)) else None
    fingerprint = game.fingerprint if fingerprints is not None else None
    every = replay.fingerprint_every
    if fingerprints is not None:
        report.fingerprints += len(fingerprints)
    verified = 0  # the last step whose recorded hashes all matched
    step = 0
    base = report.steps
    for target in sorted({0, n, *hashes, *summaries, *keyframes}):
        try:
            for action in actions[step:target]:
                press(buttons[action])
                step += 1
                if fingerprint is not None and not step % every and \
                        fingerprint() & 0xFF != fingerprints[step // every - 1]:
                    raise _Diverged(step, fingerprint() & 0xFF, fingerprints[step // every - 1])
                new_mask = milestone_mask()
                if new_mask != mask:
                    fresh = new_mask & ~mask
                    mask |= new_mask
                    paid = 0.0
                    for i in range(fresh.bit_length()):
                        if fresh >> i & 1:
                            reached[ids[i]] = step
                            paid += weights[i]
                    if paid:
                        rewards[step] = paid
        except IndexError:
            problems.append((step + 1, f"{where(step + 1)}: action {actions[step]} is not a button (edited actions)"))
            break
        except _Diverged as diverged:
            # The fingerprint before this one matched: the changed action is one of the last ``every``.
            verified = max(verified, diverged.step - every)
            culprit = f"action {verified}" if diverged.step - verified == 1 else \
                f"an action between steps {verified} and {diverged.step}"
            problems.append((diverged.step, f"{where(diverged.step)}: state fingerprint differs (recorded "
                             f"{diverged.recorded:#04x}, re-simulated {diverged.got:#04x}): {culprit} "
                             "is not the one played"))
            break
        finally:
            if bar is not None:
                bar.update(base + step - report.steps)
            report.steps = base + step
        digest = None
        if target in hashes:
            digest = game.state_hash()
            report.hashes += 1
            if digest != hashes[target]:
                problems.append((target, f"{where(target)}: state hash differs (recorded {_short(hashes[target])}, "
                                 f"re-simulated {_short(digest)}): an action between steps {verified} and {target} "
                                 "is not the one played"))
                break
        if target in summaries:
            claimed, live = summaries[target], game.state()
            if (claimed.map_id, claimed.x, claimed.y, claimed.mode) != (live.map_id, live.x, live.y, live.mode.value):
                # No cause is named: an edited row, or a change in what state() reports for the same state (which
                # needs a rules or hash version bump, see FORMAT.md) read the same. Only what was checked is said.
                checked = "its state hash matches" if target in hashes else f"actions verified to step {verified}"
                problems.append((target, f"{where(target)}: the state summary differs from the re-simulated state "
                                 f"(recorded map {claimed.map_id} at ({claimed.x}, {claimed.y}) {claimed.mode}, "
                                 f"re-simulated map {live.map_id} at ({live.x}, {live.y}) {live.mode.value}; "
                                 f"{checked})"))
                break
        if target in keyframes:
            state = replay.keyframe(e, target)
            report.keyframes += 1
            if state != game.save_state() and not _same_state(replay, state, digest or game.state_hash()):
                problems.append((target, f"{where(target)}: the keyframe is not the re-simulated state: an edited "
                                 "keyframe (frames rendered from it would show a game that was not played)"))
                break
        if target in hashes or target in keyframes or target in (0, n):  # a summary alone pins down less
            verified = target

    # Claims are judged up to the last verified state: beyond a divergence everything differs anyway.
    for milestone, at in recorded.items():
        if at > verified:
            continue
        if milestone not in reached or reached[milestone] > verified:
            problems.append((at, f"{where(at)}: milestone {milestone!r} is recorded but re-simulation does not "
                             "reach it (forged)"))
        elif reached[milestone] != at:
            problems.append((min(at, reached[milestone]), f"{where(at)}: milestone {milestone!r} is recorded at "
                             f"step {at} but re-simulation reaches it at step {reached[milestone]}"))
        else:
            report.milestones += 1
    for milestone, at in reached.items():
        if milestone not in recorded and at <= verified:
            problems.append((at, f"{where(at)}: milestone {milestone!r} is reached in re-simulation but missing "
                             "from the replay"))
    if check_rewards:
        for s in sorted(set(rewards) | set(recorded_rewards)):
            if s <= verified and abs(rewards.get(s, 0.0) - recorded_rewards.get(s, 0.0)) > 1e-9:
                problems.append((s, f"{where(s)}: reward differs (recorded {recorded_rewards.get(s, 0.0)}, "
                                 f"re-simulated {rewards.get(s, 0.0)})"))
                break
        report.rewards += len(recorded_rewards)
    if not problems and info.end_reason == "terminated" and not game.finished():
        problems.append((n, f"{where(n)}: the episode is recorded as finished but the game is not finished"))
    report.problems.extend(message for _, message in sorted(problems, key=lambda p: p[0]))


def _check_catalog(replay: ReplayReader, e: int, rebuilt: list[dict[str, Any]], where: str,
                   report: VerifyReport) -> None:
    """The milestone names, tiers and weights that compare and the viewer show for episode ``e`` must be its
    world's: its own catalog (the header's where it stores none) and, for the first episode, the header's."""
    if not replay.episode_catalogs_recorded:
        # Written before episodes stored their catalogs (and before the header's was the first episode's world):
        # the reader resets a later episode's world for its catalog; the header's may honestly be another world's.
        difference = _catalog_difference(replay.header.get("catalog"), rebuilt) if e == 0 else None
        if difference:
            report.warnings.append(f"the header's milestone catalog is not the first episode's world ({difference}): "
                                   "an older replay, whose milestones compare and the viewer name by it")
        return
    stored = replay.catalog_stored(e)
    what = "the milestone catalog recorded for it" if stored else "the header's milestone catalog"
    try:
        claims = {what: replay.catalog(e)}
    except CorruptReplayError:
        report.problems.append(f"{where}: {what} is not a list of milestones (edited)")
        return
    if e == 0 and stored:
        claims["the header's milestone catalog"] = replay.header.get("catalog")
    for what, claimed in claims.items():
        difference = _catalog_difference(claimed, rebuilt)
        if difference:
            report.problems.append(f"{where}: {what} is not this world's ({difference}): edited")
            return


def _catalog_difference(claimed: Any, rebuilt: list[dict[str, Any]]) -> str | None:
    """The first difference between a recorded catalog and the rebuilt world's, in words (None: the same)."""
    if claimed == rebuilt:
        return None
    if not isinstance(claimed, list):
        return "not a list of milestones"
    for i, (mine, theirs) in enumerate(zip(claimed, rebuilt, strict=False)):
        if mine != theirs:
            if not isinstance(mine, dict):
                return f"milestone {i + 1} is not a milestone"
            return f"milestone {i + 1}: " + _differing(mine, theirs, ", ")
    return f"{len(claimed)} milestones recorded, {len(rebuilt)} rebuilt"


def _differing(recorded: dict[str, Any], rebuilt: dict[str, Any], sep: str) -> str:
    """``KEY recorded X, rebuilt Y`` for every key whose values differ, in key order, joined by ``sep``."""
    keys = sorted(set(recorded) | set(rebuilt), key=str)
    return sep.join(f"{k} recorded {recorded.get(k)!r}, rebuilt {rebuilt.get(k)!r}" for k in keys
                    if recorded.get(k) != rebuilt.get(k))


def _same_state(replay: ReplayReader, state: bytes, digest: bytes) -> bool:
    # Save states need not be canonical bytes: equal hashes after loading are what count.
    game = replay.game
    live = game.save_state()
    try:
        game.load_state(state)
        same = game.state_hash() == digest
    except Exception:  # noqa: BLE001 - a keyframe the game rejects is an edited keyframe
        same = False
    game.load_state(live)
    return same
