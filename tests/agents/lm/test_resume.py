"""Checkpoints and ``--resume``: a resumed run continues the same replay and gives the same replay."""

from __future__ import annotations

import dataclasses
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from longplay.agents.lm.checkpoint import CheckpointError, checkpoint_actions, find_checkpoint, load_checkpoint
from longplay.agents.lm.cli import main
from longplay.agents.lm.config import ProviderConfig
from longplay.agents.lm.providers import OfflineProvider
from longplay.replays.compare import read_runs
from longplay.replays.reader import ReplayReader
from longplay.replays.verify import verify


def replay_content(path: Path) -> dict[str, Any]:
    """What must be equal between an interrupted and an uninterrupted run (times and latencies aside)."""
    with ReplayReader(path) as r:
        return {
            "actions": r.actions(),
            "milestones": [(m.episode, m.step, m.milestone) for m in r.milestones()],
            "turns": [
                (
                    t.turn,
                    t.step,
                    t.response,
                    t.tool_calls,
                    t.tokens_in,
                    t.tokens_out,
                    t.error,
                    t.prompt_digest,
                    {k: v for k, v in (t.extra or {}).items() if k != "harness_s"},
                )
                for t in r.turns()
            ],
            "memory": [(m.snapshot, m.step, m.name, m.content) for m in r.memory()],
            "episodes": [(e.episode, e.seed, e.end_step, e.end_reason) for e in r.episodes()],
        }


@contextmanager
def edited_checkpoint(path: Path) -> Iterator[dict[str, Any]]:
    """The data of the checkpoint at ``path``, written back (compressed, as a run writes it) after the block edits
    it: a checkpoint as another longplay wrote it."""
    data = json.loads(zlib.decompress(path.read_bytes()))
    yield data
    path.write_bytes(zlib.compress(json.dumps(data).encode()))


def the_replay(folder: Path) -> Path:
    (path,) = folder.glob("*.lpr")
    return path


ARGS = ["--env", "QuestMini-v0", "--scaffold", "full", "--checkpoint-every", "10", "--quiet"]


def assert_same_replay(resumed: Path, straight: Path, kept: int | None = None) -> None:
    """The resumed replay is the straight one; with ``kept`` (the turn rows of the checkpoint it resumed from,
    after a crash), but for the row after those that holds what the calls lost with the run spent."""
    a, b = replay_content(resumed), replay_content(straight)
    if kept is not None:
        row = a["turns"].pop(kept)
        assert row[0] == kept + 1 and row[8].get("discarded_calls", 0) > 0, row
        b["turns"][kept:] = [(t[0] + 1, *t[1:]) for t in b["turns"][kept:]]  # the ids after that row
    for key in ("actions", "milestones", "turns", "memory", "episodes"):
        assert a[key] == b[key], key
    # Where the recorder hashes the state depends on timing (adaptive spacing), so hashes are not compared
    # one to one: every hash of both files must match the re-simulated game instead.
    assert verify(resumed).ok and verify(straight).ok


def test_resume_after_a_budget_stop_gives_the_same_replay(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*ARGS, "--runs-dir", str(one), "--max-turns", "25"]) == 0
    replay = the_replay(one)
    assert load_checkpoint(find_checkpoint(str(replay)))["reason"] == "stop"
    assert main(["--resume", str(replay), "--max-turns", "50", "--quiet"]) == 0
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", "50"]) == 0
    assert_same_replay(replay, the_replay(two))
    with ReplayReader(replay) as r:
        assert len(r.header["resumes"]) == 1 and r.header["status"] == "closed"


def test_a_moved_runs_folder_resumes(tmp_path: Path) -> None:
    one, moved, two = tmp_path / "one", tmp_path / "elsewhere", tmp_path / "two"
    assert main([*ARGS, "--runs-dir", str(one), "--max-turns", "25"]) == 0
    one.rename(moved)  # the checkpoint names its replay relative to itself
    replay = the_replay(moved)
    assert load_checkpoint(find_checkpoint(str(replay)))["replay"] == str(replay)
    assert main(["--resume", str(replay), "--max-turns", "50", "--quiet"]) == 0
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", "50"]) == 0
    assert_same_replay(replay, the_replay(two))


def test_resume_can_lift_a_budget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "5"]) == 0
    replay = the_replay(tmp_path)
    with ReplayReader(replay) as r:
        assert len(r.turns()) == 5
    assert main(["--resume", str(replay), "--max-turns", "none", "--max-steps", "60", "--quiet"]) == 0
    with ReplayReader(replay) as r:
        assert len(r.actions()) == 60 and len(r.turns()) > 5
        # the budget the run was resumed with (compare tells by it a run that used its budget from one cut short)
        assert (r.header["budget"]["turns"], r.header["budget"]["steps"]) == (None, 60)
    assert [run.stopped_early for run in read_runs(replay)] == [False]
    assert load_checkpoint(find_checkpoint(str(replay)))["run"]["config"]["budget"]["max_turns"] is None
    with pytest.raises(SystemExit):
        main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "lots"])
    assert "invalid int value: 'lots'" in capsys.readouterr().err


def test_a_resumed_runs_header_records_one_budget(tmp_path: Path) -> None:
    """On --resume the header's ``budget`` took the new limits while its ``config.budget`` kept the first
    session's: a run resumed with a raised --max-turns said 3 turns in one place and 6 in the other."""
    assert main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "3"]) == 0
    replay = the_replay(tmp_path)
    assert main(["--resume", str(replay), "--max-turns", "6", "--quiet"]) == 0
    saved = load_checkpoint(find_checkpoint(str(replay)))["run"]["config"]["budget"]
    with ReplayReader(replay) as r:
        assert r.header["config"]["budget"] == saved and saved["max_turns"] == 6
        assert r.header["budget"] == {"steps": saved["max_steps"], "turns": 6, "tokens": None, "dollars": None,
                                      "seconds": None}



def test_a_resumed_runs_header_records_its_new_timeout(tmp_path: Path) -> None:
    """A resume may change --timeout: the header kept the first session's, and readers size a live run's quiet time
    by it (compare.recording_window_s), so a run resumed with --timeout 1800 was taken as killed mid-call."""
    from longplay.replays.compare import RECORDING_QUIET_S, recording_window_s

    assert main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "3"]) == 0
    replay = the_replay(tmp_path)
    assert main(["--resume", str(replay), "--max-turns", "6", "--timeout", "1800", "--quiet"]) == 0
    with ReplayReader(replay) as r:
        assert r.header["config"]["provider"]["request_timeout_s"] == 1800
        assert r.header["config"]["budget"]["max_turns"] == 6
        assert recording_window_s(r.header) > max(1800, RECORDING_QUIET_S)

class Crash(Exception):
    """The process dies (a bug, a kill) in the middle of a turn."""


class CrashingProvider(OfflineProvider):
    """The offline model, but the process dies at its ``at``-th call."""

    def __init__(self, at: int) -> None:
        super().__init__(ProviderConfig())
        self.at = at
        self.count = 0

    def complete(self, request):  # type: ignore[no-untyped-def]
        self.count += 1
        if self.count == self.at:
            raise Crash()
        return super().complete(request)



class FlakyProvider(OfflineProvider):
    """The offline model behind an endpoint whose first answer to every third turn is a 500, and which counts twice
    the input tokens the local estimate does (a tokenizer of its own)."""

    def __init__(self) -> None:
        super().__init__(ProviderConfig())
        self.failed: set[str] = set()

    def complete(self, request):  # type: ignore[no-untyped-def]
        from longplay.agents.lm.messages import Text
        from longplay.agents.lm.providers import ProviderError

        turn = next(b.text for b in request.messages[-1].blocks if isinstance(b, Text)).split(" |")[0]
        if int(turn.split()[-1]) % 3 == 0 and turn not in self.failed:
            self.failed.add(turn)
            raise ProviderError("server", "HTTP 500")
        response = super().complete(request)
        # counted by the endpoint, not estimated (the offline model's own counts are the local estimate)
        return dataclasses.replace(response, usage=dataclasses.replace(response.usage, input=2 * response.usage.input),
                                   estimated_usage=False)


def test_a_resumed_run_waits_out_its_retries_as_an_uninterrupted_one(tmp_path: Path) -> None:
    """The back-off before a retry is drawn from the run's seeded generator, and the local token estimate is scaled
    to the endpoint's counts, both kept by the checkpoint: a resumed run records the same attempts, with the same
    waits, and the same context estimates as a run that was never interrupted."""
    from longplay.agents.lm.cli import build_parser, run_lm

    def play(argv: list[str]) -> int:
        return run_lm(build_parser().parse_args(argv), provider=FlakyProvider(), sleep=lambda s: None)

    one, two = tmp_path / "one", tmp_path / "two"
    assert play([*ARGS, "--runs-dir", str(one), "--max-turns", "10"]) == 0
    replay = the_replay(one)
    assert play(["--resume", str(replay), "--max-turns", "20", "--quiet"]) == 0
    assert play([*ARGS, "--runs-dir", str(two), "--max-turns", "20"]) == 0
    assert_same_replay(replay, the_replay(two))
    with ReplayReader(replay) as r:
        turns = r.turns()
    waits = [a["waited_s"] for t in turns for a in (t.extra or {}).get("attempts", [])]
    assert len(waits) == 6 and len(set(waits)) == 6  # turns 3, 6 ... 18: each retried once, after its own wait
    first, tenth = turns[0], next(t for t in turns if t.extra["turn"] == 10)
    assert first.extra["context_tokens_est"] < 0.6 * first.tokens_in  # the local estimate counts half ...
    assert tenth.extra["context_tokens_est"] == pytest.approx(tenth.tokens_in, rel=0.1)  # ... until scaled


def test_resume_after_a_crash_rolls_back_to_the_checkpoint(tmp_path: Path) -> None:
    from longplay.agents.lm.cli import build_parser, run_lm

    one, two = tmp_path / "one", tmp_path / "two"
    with pytest.raises(Crash):
        run_lm(
            build_parser().parse_args([*ARGS, "--runs-dir", str(one), "--max-turns", "50"]),
            provider=CrashingProvider(at=27),
        )
    replay = the_replay(one)
    checkpoint = load_checkpoint(find_checkpoint(replay.name, one))
    assert checkpoint["reason"] in ("every", "milestone") and checkpoint["run"]["turn"] < 27
    kept = checkpoint["run"]["counters"]["logged_turns"]
    with ReplayReader(replay) as r:
        lost = [t for t in r.turns() if t.turn > kept]  # turns past the checkpoint ...
    assert lost and sum(t.tokens_in for t in lost) > 0
    assert main(["--resume", replay.stem, "--runs-dir", str(one), "--quiet"]) == 0  # ... are played again
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", "50"]) == 0
    straight = the_replay(two)
    assert_same_replay(replay, straight, kept)
    # ... and what they spent stays in the replay: one row at the checkpoint's step, after the kept ones.
    with ReplayReader(replay) as r, ReplayReader(straight) as s:
        turns = r.turns()
        row = turns[kept]
        assert row.step == len(checkpoint_actions(checkpoint)) and "lost with the run" in (row.error or "")
        assert (row.extra or {})["discarded_calls"] == len(lost) == r.header["resumes"][-1]["discarded_calls"]
        assert row.extra["kind"] == "discarded"  # not an acting turn: a sweep's turn count leaves it out
        assert (row.tokens_in, row.tokens_out) == (sum(t.tokens_in for t in lost), sum(t.tokens_out for t in lost))
        assert sum(t.tokens_in for t in turns) == sum(t.tokens_in for t in s.turns()) + row.tokens_in
    # The resumed run's counters hold the lost calls' tokens too: its checkpoint is ahead of the straight run's.
    ahead = load_checkpoint(find_checkpoint(replay.name, one))["run"]["counters"]
    behind = load_checkpoint(find_checkpoint(straight.name, two))["run"]["counters"]
    assert ahead["tokens_in"] == behind["tokens_in"] + row.tokens_in
    assert ahead["logged_turns"] == behind["logged_turns"] + 1


def test_interrupt_while_waiting_for_the_model_is_checkpointed(tmp_path: Path) -> None:
    from longplay.agents.lm.cli import build_parser, run_lm

    class Interrupting(CrashingProvider):
        def complete(self, request):  # type: ignore[no-untyped-def]
            if self.count + 1 == self.at:
                self.count += 1
                raise KeyboardInterrupt
            return super().complete(request)

        def state_dict(self):  # type: ignore[no-untyped-def]
            return {}  # a remote endpoint: no state of its own (the offline model's call is mid-turn, below)

    args = build_parser().parse_args([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "30"])
    assert run_lm(args, provider=Interrupting(at=5)) == 130
    checkpoint = load_checkpoint(find_checkpoint(str(the_replay(tmp_path))))
    assert checkpoint["reason"] == "stop" and checkpoint["run"]["counters"]["turns"] == 4


def _interrupt_in_act(monkeypatch: pytest.MonkeyPatch, turn: int) -> None:
    """Ctrl-C in the LM loop's ``turn``-th act, once the game has stepped (anywhere in a turn, as a sweep's lands)."""
    from longplay.agents.lm import loop

    act, calls = loop.LMRun._act, {"n": 0}

    def act_then_interrupt(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = act(self, *args, **kwargs)  # the game has stepped
        calls["n"] += 1
        if calls["n"] == turn:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(loop.LMRun, "_act", act_then_interrupt)


def test_interrupt_as_the_offline_model_answers_resumes_to_the_same_replay(tmp_path: Path) -> None:
    """Ctrl-C landing in the offline model's call (it has moved its own state: its RNG, its call count) was
    taken for a wait on a remote model and checkpointed as a turn boundary, with the model one answer ahead:
    the resumed run then pressed other buttons than an uninterrupted one (a sweep's Ctrl-C showed it)."""
    from longplay.agents.lm.cli import build_parser, run_lm

    class InterruptedAsItAnswers(CrashingProvider):
        def complete(self, request):  # type: ignore[no-untyped-def]
            response = super(CrashingProvider, self).complete(request)
            self.count += 1
            if self.count == self.at:
                raise KeyboardInterrupt
            return response

    one, two = tmp_path / "one", tmp_path / "two"
    args = build_parser().parse_args([*ARGS, "--runs-dir", str(one), "--max-turns", "50"])
    assert run_lm(args, provider=InterruptedAsItAnswers(at=15)) == 130
    replay = the_replay(one)
    checkpoint = load_checkpoint(find_checkpoint(str(replay)))
    assert checkpoint["reason"] != "stop"
    assert main(["--resume", str(replay), "--quiet"]) == 0
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", "50"]) == 0
    assert_same_replay(replay, the_replay(two), checkpoint["run"]["counters"]["logged_turns"])


def test_interrupt_during_a_turn_keeps_the_checkpoint_of_the_last_turn_boundary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after the model answered (the game stepped, the turn not logged) must not checkpoint that
    state: the checkpoint of the last boundary stays, and resuming from it gives the uninterrupted replay.
    (A sweep's Ctrl-C lands anywhere in a turn; such a checkpoint made its resume fail on the state hash.)"""
    from longplay.agents.lm.cli import build_parser, run_lm

    one, two = tmp_path / "one", tmp_path / "two"
    _interrupt_in_act(monkeypatch, 15)
    args = build_parser().parse_args([*ARGS, "--runs-dir", str(one), "--max-turns", "50"])
    assert run_lm(args, provider=OfflineProvider(ProviderConfig())) == 130
    monkeypatch.undo()
    replay = the_replay(one)
    checkpoint = load_checkpoint(find_checkpoint(str(replay)))
    assert checkpoint["reason"] != "stop" and checkpoint["run"]["counters"]["turns"] < 15
    assert main(["--resume", str(replay), "--quiet"]) == 0
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", "50"]) == 0
    # The turns after that checkpoint are played again; what their calls spent stays in one row.
    assert_same_replay(replay, the_replay(two), checkpoint["run"]["counters"]["logged_turns"])



def test_a_milestone_reached_after_the_checkpoint_is_cut_and_reached_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the turn that reached a milestone, before that turn's checkpoint: the replay holds the milestone, the
    checkpoint does not. The resume cuts it with the turns after the checkpoint: resumed with a turn budget the
    checkpoint already reached, the replay is that of a run stopped there (the milestone it kept was at a step
    past the replay's last action), and resumed on, the turn is played again and the milestone recorded once."""
    from longplay.agents.lm import loop
    from longplay.agents.lm.cli import build_parser, run_lm

    act, reached = loop.LMRun._act, []

    def interrupt_at_a_milestone(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = act(self, *args, **kwargs)  # the game has stepped
        reached.extend(result[1])
        if result[1] and len(reached) > 1:  # the first milestone's checkpoint is the one to resume from
            raise KeyboardInterrupt
        return result

    one, two = tmp_path / "one", tmp_path / "two"
    monkeypatch.setattr(loop.LMRun, "_act", interrupt_at_a_milestone)
    args = build_parser().parse_args([*ARGS, "--runs-dir", str(one), "--max-turns", "300"])
    assert run_lm(args, provider=OfflineProvider(ProviderConfig())) == 130
    monkeypatch.undo()
    replay = the_replay(one)
    checkpoint = load_checkpoint(find_checkpoint(str(replay)))
    steps = len(checkpoint_actions(checkpoint))
    with ReplayReader(replay) as r:
        assert any(m.step > steps for m in r.milestones())  # reached after the checkpoint, in the replay
    turns, kept = checkpoint["run"]["counters"]["turns"], checkpoint["run"]["counters"]["logged_turns"]
    assert main(["--resume", str(replay), "--max-turns", str(turns), "--quiet"]) == 0
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", str(turns)]) == 0
    assert_same_replay(replay, the_replay(two), kept)
    assert main(["--resume", str(replay), "--max-turns", "300", "--quiet"]) == 0
    assert main([*ARGS, "--runs-dir", str(tmp_path / "three"), "--max-turns", "300"]) == 0
    assert_same_replay(replay, the_replay(tmp_path / "three"), kept)

@pytest.mark.parametrize("record", [True, False])
def test_interrupt_during_a_turn_before_any_scheduled_checkpoint_resumes_from_the_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], record: bool) -> None:
    """Ctrl-C during turn 3 of a run checkpointed every 10 turns said "resume from the last checkpoint" when there
    was none: the run had nothing to resume from. A fresh run is checkpointed at its start now, and the message says
    which checkpoint a resume starts from (or, with no checkpoints at all, that there is nothing to resume)."""
    from longplay.agents.lm.cli import build_parser, run_lm

    one, two = tmp_path / "one", tmp_path / "two"
    _interrupt_in_act(monkeypatch, 3)
    args = [*ARGS, "--runs-dir", str(one), "--max-turns", "25", *([] if record else ["--no-record"])]
    assert run_lm(build_parser().parse_args(args), provider=OfflineProvider(ProviderConfig())) == 130
    monkeypatch.undo()
    out = capsys.readouterr().out
    if not record:
        assert "stopped: interrupted: interrupted during a turn: this run writes no checkpoints, so it cannot be " \
               "resumed" in out and "--resume" not in out
        return
    assert "during turn 3: resume from the last checkpoint (after turn 0, step 0)" in out and "--resume" in out
    replay = the_replay(one)
    checkpoint = load_checkpoint(find_checkpoint(str(replay)))
    assert checkpoint["reason"] == "start" and checkpoint["steps"] == 0
    assert main(["--resume", str(replay), "--quiet"]) == 0
    assert main([*ARGS, "--runs-dir", str(two), "--max-turns", "25"]) == 0
    # the three turns are played again; what their calls spent stays in one row
    assert_same_replay(replay, the_replay(two), checkpoint["run"]["counters"]["logged_turns"])


def test_interrupt_before_the_start_checkpoint_leaves_no_replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C while a new run was starting (its env's reset, a Game Boy game's intro) left a replay with no
    checkpoint beside it: `--resume` refused it ('no checkpoint for run'), `longplay verify` failed it, and it sat in
    the runs folder. No turn was played and nothing spent, so nothing is kept, as for a run refused before it
    starts; a run started again records a new replay."""
    from longplay.agents.lm import driver
    from longplay.agents.lm.cli import build_parser, run_lm

    reset = driver.Driver.reset

    def reset_then_interrupt(self, seed):  # type: ignore[no-untyped-def]
        reset(self, seed)  # the replay's episode has begun
        raise KeyboardInterrupt

    monkeypatch.setattr(driver.Driver, "reset", reset_then_interrupt)
    assert main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "5"]) == 130
    monkeypatch.undo()
    assert "interrupted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    assert run_lm(build_parser().parse_args([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "5"])) == 0
    assert verify(the_replay(tmp_path)).ok


def test_a_run_resumed_by_a_longplay_with_other_prompts_says_so(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A run checkpointed by a longplay whose prompts and tool descriptions were version 3, resumed by one that sends
    version 4, went on with the new prompts while its config (the checkpoint's, and every later resume's) still said
    version 3, and nothing in the replay said that the model read other prompts from the resume on. The resume now
    notes the version it sends in the header's ``resumes`` entry, and the run's config takes it."""
    from longplay.agents.lm.config import PROMPT_VERSION

    assert main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "5"]) == 0
    replay = the_replay(tmp_path)
    path = find_checkpoint(str(replay))
    with edited_checkpoint(path) as data:
        data["run"]["config"]["prompt_version"] = "3"  # as the longplay before PROMPT_VERSION 4 wrote it
    capsys.readouterr()
    assert main(["--resume", str(replay), "--max-turns", "8", "--quiet"]) == 0
    assert f"prompt version 3; this longplay sends version {PROMPT_VERSION}" in capsys.readouterr().out
    with ReplayReader(replay) as r:
        assert r.header["resumes"][-1]["prompt_version"] == PROMPT_VERSION
    assert load_checkpoint(path)["run"]["config"]["prompt_version"] == PROMPT_VERSION
    assert main(["--resume", str(replay), "--max-turns", "10", "--quiet"]) == 0  # the same version: no note
    with ReplayReader(replay) as r:
        assert "prompt_version" not in r.header["resumes"][-1]


def test_a_game_boy_run_checkpointed_before_state_hash_versions_resumes(tmp_path: Path) -> None:
    """A Game Boy run checkpointed before the state hash covered cartridge RAM holds version 1 hashes, and its
    checkpoint no identity: the resume rebuilt a game hashing as version 2 and refused it ("state hashes differ").
    It rebuilds the game hashing as the run did, and the resumed replay verifies."""
    import sqlite3

    pytest.importorskip("pyboy")
    args = ["--env", "TestCart-v0", "--runs-dir", str(tmp_path), "--quiet"]
    assert main([*args, "--max-turns", "3", "--set", "state_hash_version=1"]) == 0
    replay = the_replay(tmp_path)
    # as an older longplay wrote them: no state_hash_version option, and no identity in the checkpoint
    path = find_checkpoint(str(replay))
    with edited_checkpoint(path) as data:
        del data["env_kwargs"]["state_hash_version"], data["identity"]
    conn = sqlite3.connect(replay)
    conn.execute("UPDATE header SET value = json_remove(value, '$.state_hash_version') WHERE key = 'env_kwargs'")
    conn.commit()
    conn.close()
    assert main(["--resume", str(replay), "--max-turns", "6", "--quiet"]) == 0
    with ReplayReader(replay) as r:
        assert len(r.turns()) == 6 and "state_hash_version" not in r.header["identity"]
    assert "state_hash_version" not in load_checkpoint(path)["identity"]  # its next resume hashes as version 1 too
    report = verify(replay)
    assert report.ok and report.hashes >= 3, report.summary()


def test_a_refused_call_has_its_row_and_a_resume_after_it_plays_the_refused_turn(tmp_path: Path) -> None:
    """The endpoint refusing the run (a key revoked at turn 4) stops it: the refused call was counted in
    failed_calls with no row in the replay, so the counters and the turns table disagreed. Its row is kept now, as
    no agent turn (kind "refused"), and a resume after fixing the key plays turn 4 as the straight run does."""
    from longplay.agents.lm.cli import build_parser, run_lm
    from longplay.agents.lm.providers import ProviderError
    from longplay.replays.reader import is_agent_turn

    class Revoked(Stateless):
        acts = 0

        def complete(self, request):  # type: ignore[no-untyped-def]
            self.acts += request.purpose == "act"
            if self.acts == 4:
                raise ProviderError("auth", "the key was revoked", status=401)
            return super().complete(request)

    one, two = tmp_path / "one", tmp_path / "two"
    assert run_lm(build_parser().parse_args([*ARGS, "--runs-dir", str(one), "--max-turns", "8"]),
                  provider=Revoked(ProviderConfig())) == 1
    replay = the_replay(one)
    counters = load_checkpoint(find_checkpoint(str(replay)))["run"]["counters"]
    with ReplayReader(replay) as r:
        rows = r.turns()
    assert counters["turns"] == 3 and counters["failed_calls"] == 1 and len(rows) == counters["logged_turns"] == 4
    assert rows[-1].error == "auth: the key was revoked" and rows[-1].extra["kind"] == "refused"
    assert counters["failed_calls"] == sum(len(t.extra["attempts"]) for t in rows)
    assert sum(is_agent_turn(t) for t in rows) == counters["turns"]  # the viewer's and a sweep's turn count
    assert run_lm(build_parser().parse_args(["--resume", str(replay), "--quiet"]),
                  provider=Stateless(ProviderConfig())) == 0
    assert run_lm(build_parser().parse_args([*ARGS, "--runs-dir", str(two), "--max-turns", "8"]),
                  provider=Stateless(ProviderConfig())) == 0
    resumed, straight = replay_content(replay), replay_content(the_replay(two))
    refused = resumed["turns"].pop(3)
    assert refused[6] == "auth: the key was revoked"
    straight["turns"] = [(t[0] + (t[0] > 3), *t[1:]) for t in straight["turns"]]  # row ids after the refused one
    assert resumed == straight


def test_resume_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--resume", "nope", "--runs-dir", str(tmp_path)]) == 2
    assert "no checkpoint for run 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage")
    assert main(["--resume", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not a longplay checkpoint" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "missing.ckpt")
    # a checkpoint a newer longplay wrote (another layout) is refused in one line, not read as this one's
    assert main(["--max-turns", "2", "--runs-dir", str(tmp_path / "newer"), "--quiet"]) == 0
    replay = the_replay(tmp_path / "newer")
    with edited_checkpoint(find_checkpoint(str(replay))) as data:
        data["version"] = 2
    capsys.readouterr()
    assert main(["--resume", str(replay), "--max-turns", "3", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("is a version 2 checkpoint; this longplay reads up to 1: upgrade longplay"), err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("env_id, expected", [
    ("QuestMini-v0", 0),  # a short id (the CLI takes one) resolves as --env does
    ("longplay/QuestGone-v0", 2),  # an env this longplay no longer has is one line naming the valid ones
])
def test_resume_resolves_the_checkpoints_env_id(env_id: str, expected: int, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The resumed run took its env id from the checkpoint as it was: an id not registered was gymnasium's
    NameNotFound traceback (after check_options' KeyError)."""
    assert main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "3"]) == 0
    path = find_checkpoint(str(the_replay(tmp_path)))
    with edited_checkpoint(path) as data:
        data["env_id"] = env_id
    capsys.readouterr()
    assert main(["--resume", str(the_replay(tmp_path)), "--max-turns", "5", "--quiet"]) == expected
    err = capsys.readouterr().err
    if expected:
        assert f"unknown env {env_id!r}; valid envs: " in err and len(err.strip().splitlines()) == 1, err


def test_a_run_whose_episode_ended_offers_no_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--set", "max_steps=30", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "stopped: episode_end" in out and "--resume" not in out and "nothing to continue" in out
    assert main(["--resume", str(the_replay(tmp_path)), "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "reached the episode's step limit: there is nothing to resume" in err and len(err.splitlines()) == 1


def test_resume_takes_steps_as_the_step_budget_and_says_what_it_ignores(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*ARGS, "--runs-dir", str(tmp_path), "--steps", "30"]) == 0
    replay = the_replay(tmp_path)
    with ReplayReader(replay) as r:
        assert len(r.actions()) == 30
    capsys.readouterr()
    # --steps raises the budget as --max-steps does; the run keeps its env, seed and env options
    assert main(["--resume", str(replay), "--steps", "60", "--seed", "5", "--set", "size=small", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "--seed, --set ignored with --resume" in out
    with ReplayReader(replay) as r:
        assert len(r.actions()) == 60 and r.episodes()[0].seed == 0
    assert verify(replay).ok


@pytest.mark.parametrize("version", [1, 2])
def test_a_chunk_straddling_the_checkpoint_is_cut_with_its_fingerprints(tmp_path: Path, version: int) -> None:
    """A replay committed past the checkpoint in one chunk is cut inside it: the chunk's fingerprints must be
    cut too (one every ``fingerprint_every`` steps; every step in a version 1 replay), or the reader refuses
    the resumed replay as corrupt."""
    import sqlite3

    import gymnasium as gym
    import numpy as np

    import longplay.envs  # noqa: F401
    from longplay.agents.lm.checkpoint import reopen_recorder, resimulate
    from longplay.replays.recorder import Recorder

    path = tmp_path / "run.lpr"
    plan = np.random.default_rng(0).integers(0, 8, 300).tolist()
    with Recorder(gym.make("longplay/QuestMini-v0"), path, agent="lm",
                  fingerprint_every=1 if version == 1 else 16) as rec:
        rec.reset(seed=0)
        for action in plan:
            rec.step(action)
    conn = sqlite3.connect(path)
    if version == 1:  # as written before fingerprint_every existed
        settings = json.loads(conn.execute("SELECT value FROM header WHERE key = 'recorder'").fetchone()[0])
        del settings["fingerprint_every"]
        conn.execute("UPDATE header SET value = ? WHERE key = 'recorder'", (json.dumps(settings),))
        conn.execute("UPDATE header SET value = '1' WHERE key = 'format_version'")
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
    assert conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 1  # the checkpoint's step is inside it
    conn.close()
    env = gym.make("longplay/QuestMini-v0")
    resimulate(env, 0, bytes(plan[:150]))
    rec, discarded = reopen_recorder(env, path, steps=150, turns=0, memory=0, seconds=0.0)
    assert discarded[0] == 0  # no turns logged: nothing spent after the checkpoint
    with rec:
        for action in plan[150:]:
            rec.step(action)
    with ReplayReader(path) as r:
        every = r.fingerprint_every
        assert every == (1 if version == 1 else 16) and r.header["format_version"] == version
        assert r.actions() == bytes(plan) and len(r.fingerprints()) == 300 // every
    assert verify(path).ok


def test_what_calls_lost_with_a_crashed_run_spent_counts_against_the_dollar_budget(tmp_path: Path) -> None:
    from longplay.agents.lm.cli import build_parser, run_lm

    priced = [*ARGS, "--price", "claude-sonnet-4-5"]  # the offline model billed at a real model's prices
    with pytest.raises(Crash):
        run_lm(build_parser().parse_args([*priced, "--runs-dir", str(tmp_path), "--max-turns", "50"]),
               provider=CrashingProvider(at=27))
    replay = the_replay(tmp_path)
    counters = load_checkpoint(find_checkpoint(replay.name, tmp_path))["run"]["counters"]
    with ReplayReader(replay) as r:
        lost = sum(t.cost_usd for t in r.turns() if t.turn > counters["logged_turns"])
    assert lost > 0
    # A budget the checkpoint is under but the money really spent is not: the resumed run plays no turn.
    budget = counters["dollars"] + lost / 2
    assert main(["--resume", replay.stem, "--runs-dir", str(tmp_path), "--max-dollars", str(budget),
                 "--quiet"]) == 0
    after = load_checkpoint(find_checkpoint(replay.name, tmp_path))["run"]["counters"]
    assert after["turns"] == counters["turns"] and after["dollars"] == pytest.approx(counters["dollars"] + lost)
    with ReplayReader(replay) as r:
        assert sum(t.cost_usd for t in r.turns()) == pytest.approx(after["dollars"])


def test_a_run_still_going_is_not_resumed_beside_it(tmp_path: Path, capsys, child_lines) -> None:
    # resumed while the first process still ran (a run thought dead), both wrote the same replay and checkpoint
    import subprocess
    import sys

    assert main(["--max-turns", "5", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    (replay,) = tmp_path.glob("*.lpr")
    before = replay.read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'ab'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                               f"{replay}-lock"], stdout=subprocess.PIPE, text=True)  # what a recording run holds
    try:
        assert child_lines(holder) == ["held\n"]
        capsys.readouterr()
        writing = tmp_path / f".partial-{replay.with_suffix('.ckpt').name}.0a1b2c3d.tmp"
        writing.write_text("the checkpoint the run still going is writing")
        assert main(["--resume", str(replay), "--max-turns", "10", "--runs-dir", str(tmp_path), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "is being recorded (by a run or server still going): stop it first" in err
        assert err.count("\n") == 1
        assert replay.read_bytes() == before  # not cut back to the checkpoint
        assert writing.exists()  # not removed under the run still going
    finally:
        holder.kill()
        holder.wait()
    assert main(["--resume", str(replay), "--max-turns", "10", "--runs-dir", str(tmp_path), "--quiet"]) == 0


def test_a_resumed_run_removes_the_partial_files_its_killed_checkpoint_writes_left(tmp_path: Path) -> None:
    """A run killed outright (SIGKILL) while writing its checkpoint leaves the partial file, one per kill; nothing
    removed them. The resumed run removes its own, and nothing of other runs in the same folder."""
    assert main(["--max-turns", "5", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    (replay,) = tmp_path.glob("*.lpr")
    checkpoint = replay.with_suffix(".ckpt").name
    left = [tmp_path / f".partial-{checkpoint}.{token}.tmp" for token in ("0a1b2c3d", "9f8e7d6c")]
    kept = [tmp_path / ".partial-another-run.ckpt.0a1b2c3d.tmp", tmp_path / f"{checkpoint}.notes.tmp"]
    for path in (*left, *kept):
        path.write_text("x")
    assert main(["--resume", str(replay), "--max-turns", "10", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    assert not any(p.exists() for p in left) and all(p.exists() for p in kept)


def test_the_replay_stays_locked_from_the_cut_to_the_resumed_recorder(tmp_path: Path, monkeypatch) -> None:
    # reopen_recorder released its lock after cutting the replay and the recorder took a new one: a second run
    # resumed in between would have recorded into the same replay.
    import gymnasium as gym
    import numpy as np

    import longplay.envs  # noqa: F401
    from longplay.agents.lm.checkpoint import reopen_recorder, resimulate
    from longplay.replays import recorder as recorder_module
    from longplay.replays.recorder import Recorder
    from longplay.replays.schema import ReplayError

    path = tmp_path / "run.lpr"
    plan = np.random.default_rng(0).integers(0, 8, 200).tolist()
    with Recorder(gym.make("longplay/QuestMini-v0"), path, agent="lm") as rec:
        rec.reset(seed=0)
        for action in plan:
            rec.step(action)
    taken = []
    real = recorder_module.lock_replay

    def counted(p: object) -> object:
        lock = real(p)
        taken.append(lock)
        return lock

    monkeypatch.setattr(recorder_module, "lock_replay", counted)
    env = gym.make("longplay/QuestMini-v0")
    resimulate(env, 0, bytes(plan[:120]))
    rec, _ = reopen_recorder(env, path, steps=120, turns=0, memory=0, seconds=0.0)
    with rec:
        assert len(taken) == 1 and rec._lock is taken[0]  # one lock, held from the cut on
        with pytest.raises(ReplayError, match="is being recorded"):
            real(path)
    assert verify(path).ok


class Stateless(OfflineProvider):
    """A deterministic model with no state of its own, as a remote endpoint has none: each answer is a function
    of the request alone (buttons drawn from its digest), so a resumed run can be compared with a straight one."""

    def complete(self, request):  # type: ignore[no-untyped-def]
        from longplay.agents.lm.messages import Message, ModelResponse, Text, ToolCall, Usage, estimate_message_tokens
        from longplay.agents.lm.providers import estimate_tokens

        if request.purpose != "act":
            message = Message("assistant", [Text(f"{request.purpose}: explore what you have not seen")])
        else:
            digest = request.digest().rsplit(":", 1)[-1]
            args = {"buttons": self.buttons(digest)}
            message = Message("assistant", [Text("go"), ToolCall(f"c{digest[:8]}", "press_buttons", args,
                                                                  json.dumps(args))])
        return ModelResponse(message, Usage(estimate_tokens(request), estimate_message_tokens(message)),
                             stop_reason="tool_use" if message.tool_calls else "end_turn", model=self.model,
                             estimated_usage=True)

    def buttons(self, digest: str) -> list[str]:
        """Four buttons drawn from a hex digest."""
        return [("up", "down", "left", "right", "a")[int(c, 16) % 5] for c in digest[:4]]

    def state_dict(self):  # type: ignore[no-untyped-def]
        return {}

    def load_state_dict(self, state):  # type: ignore[no-untyped-def]
        pass


#: A critic every 5 turns (turns 6, 11, 16, ...), the offline model billed at a real model's prices.
CRITIC_ARGS = [*ARGS[:2], "--scaffold", "full,critic(every=5)", *ARGS[4:], "--price", "claude-sonnet-4-5"]


def assert_counters_match_rows(replay: Path) -> dict[str, Any]:
    """The checkpoint's counters are what its turn rows say: no call counted without a row, no row uncounted."""
    counters = load_checkpoint(find_checkpoint(str(replay)))["run"]["counters"]
    with ReplayReader(replay) as r:
        rows = r.turns()[: counters["logged_turns"]]
    assert len(rows) == counters["logged_turns"]
    assert counters["tokens_in"] == sum(t.tokens_in for t in rows)
    assert counters["tokens_out"] == sum(t.tokens_out for t in rows)
    assert counters["dollars"] == pytest.approx(sum(t.cost_usd for t in rows))
    assert counters["model_calls"] == sum(1 for t in rows if (t.extra or {}).get("kind") != "discarded")
    return counters


@pytest.mark.parametrize("purpose, at", [("act", 13), ("critic", 3)])
def test_ctrl_c_right_after_a_model_answers_keeps_the_counters_and_the_rows_together(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, purpose: str, at: int) -> None:
    """Ctrl-C landing after a remote model answered but before its turn row was written (the call counted, the
    row not) left a stop checkpoint whose counters held a call the replay has no row of: the resumed run then
    counted the call twice against the rows (tokens, dollars, calls). Counting a call and writing its row are
    one step now, and an answered call puts the run mid-turn (resumed from the last checkpoint, what the call
    spent kept in the replay)."""
    import os
    import signal

    from longplay.agents.lm.accounting import Counters
    from longplay.agents.lm.cli import build_parser, run_lm

    class CtrlCAfterTheAnswer(Stateless):
        answered, calls, armed = 0, 0, False

        def complete(self, request):  # type: ignore[no-untyped-def]
            response = super().complete(request)
            self.answered += 1
            if request.purpose == purpose:
                self.calls += 1
                self.armed = self.calls == at
            return response

    provider = CtrlCAfterTheAnswer(ProviderConfig())
    add_usage = Counters.add_usage

    def add_usage_then_ctrl_c(self, usage, dollars):  # type: ignore[no-untyped-def]
        add_usage(self, usage, dollars)
        if provider.armed:  # where the loop counts the answer: the window to test
            provider.armed = False
            os.kill(os.getpid(), signal.SIGINT)

    one, two = tmp_path / "one", tmp_path / "two"
    monkeypatch.setattr(Counters, "add_usage", add_usage_then_ctrl_c)
    assert run_lm(build_parser().parse_args([*CRITIC_ARGS, "--runs-dir", str(one), "--max-turns", "25"]),
                  provider=provider) == 130
    monkeypatch.undo()
    replay = the_replay(one)
    with ReplayReader(replay) as r:
        assert len(r.turns()) == provider.answered  # the interrupted turn's call too: it was paid for
    kept = assert_counters_match_rows(replay)["logged_turns"]
    assert run_lm(build_parser().parse_args(["--resume", str(replay), "--quiet"]),
                  provider=Stateless(ProviderConfig())) == 0
    assert_counters_match_rows(replay)
    assert run_lm(build_parser().parse_args([*CRITIC_ARGS, "--runs-dir", str(two), "--max-turns", "25"]),
                  provider=Stateless(ProviderConfig())) == 0
    assert_same_replay(replay, the_replay(two), kept)


class Counting(Stateless):
    """A model with state of its own that every call moves, summaries and critics too (the shipped offline model
    answers those without moving its state): its buttons depend on how many calls it has answered."""

    calls = 0

    def complete(self, request):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().complete(request)

    def buttons(self, digest: str) -> list[str]:
        import hashlib

        return super().buttons(hashlib.sha256(f"{digest}{self.calls}".encode()).hexdigest())

    def state_dict(self):  # type: ignore[no-untyped-def]
        return {"calls": self.calls}

    def load_state_dict(self, state):  # type: ignore[no-untyped-def]
        self.calls = state["calls"]


@pytest.mark.parametrize("when", ["inside_the_critic_call", "after_the_critic_answered", "waiting_for_the_turn"])
def test_ctrl_c_around_a_critic_call_resumes_to_the_same_replay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               when: str) -> None:
    """A Ctrl-C around a scaffold's own model call (the critic of turn 16, here) must resume to the replay an
    uninterrupted run gives: same actions, same rows, same memory. Inside the call of a model with state of its
    own, the stop checkpoint held that state one answer ahead (3d6f7ca covered the turn's call only); after the
    critic answered, and while the turn's call was awaited, it held the review done, and the resumed run asked
    the critic again (one call more, another review)."""
    from longplay.agents.lm import loop
    from longplay.agents.lm.cli import build_parser, run_lm

    make: Any = {"inside_the_critic_call": Counting, "after_the_critic_answered": OfflineProvider,
                 "waiting_for_the_turn": Stateless}[when]

    class Interrupted(make):  # type: ignore[misc, valid-type]
        critics = 0

        def complete(self, request):  # type: ignore[no-untyped-def]
            if when == "waiting_for_the_turn" and self.critics == 3 and request.purpose == "act":
                raise KeyboardInterrupt  # the critic has answered; the turn's call is awaited
            response = super().complete(request)
            self.critics += request.purpose == "critic"
            if when == "inside_the_critic_call" and self.critics == 3 and request.purpose == "critic":
                raise KeyboardInterrupt  # the model has answered (and moved its state); the loop has not seen it
            return response

    if when == "after_the_critic_answered":
        observe = loop.LMRun.observe

        def observe_or_ctrl_c(self):  # type: ignore[no-untyped-def]
            if self.turn == 16:  # the critic reviewed before the observation is taken
                raise KeyboardInterrupt
            return observe(self)

        monkeypatch.setattr(loop.LMRun, "observe", observe_or_ctrl_c)
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_lm(build_parser().parse_args([*CRITIC_ARGS, "--runs-dir", str(one), "--max-turns", "25"]),
                  provider=Interrupted(ProviderConfig())) == 130
    monkeypatch.undo()
    replay = the_replay(one)
    checkpoint = load_checkpoint(find_checkpoint(str(replay)))
    stopped = checkpoint["reason"] == "stop"
    assert stopped == (when == "waiting_for_the_turn")  # a turn boundary only before the turn's call answers
    assert run_lm(build_parser().parse_args(["--resume", str(replay), "--quiet"]),
                  provider=make(ProviderConfig())) == 0
    assert run_lm(build_parser().parse_args([*CRITIC_ARGS, "--runs-dir", str(two), "--max-turns", "25"]),
                  provider=make(ProviderConfig())) == 0
    assert_same_replay(replay, the_replay(two), None if stopped else checkpoint["run"]["counters"]["logged_turns"])


def test_a_run_begun_with_values_this_longplay_refuses_still_resumes(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A run the previous longplay began with --image-scale 16 (or --temperature inf) could not be resumed at all:
    the resume checked the run's own values against the new limits ('invalid --image-scale 16', for a flag the same
    command says is ignored with --resume). A resume checks what it can change; the run goes on as recorded."""
    assert main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "3"]) == 0
    replay = the_replay(tmp_path)
    path = find_checkpoint(str(replay))
    with edited_checkpoint(path) as data:
        data["run"]["config"]["observation"]["image_scale"] = 16  # as the longplay before MAX_IMAGE_SCALE wrote it
        data["run"]["config"]["provider"]["temperature"] = float("inf")
    assert main(["--resume", str(replay), "--max-turns", "5", "--quiet"]) == 0, capsys.readouterr().err
    assert load_checkpoint(path)["run"]["config"]["observation"]["image_scale"] == 16
    # what a resume changes is still checked
    assert main(["--resume", str(replay), "--max-turns", "7", "--timeout", "inf", "--quiet"]) == 2
    assert "--timeout must be positive and finite" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_run_resumed_from_a_checkpoint_holding_1e400_in_a_call_goes_on(kind: str, tmp_path: Path,
                                                                         dummy_keys: dict[str, str]) -> None:
    """A longplay that kept the model's ``1e400`` as ``inf`` wrote ``Infinity`` into the checkpoint's history. The
    call is cleaned once, as it is restored (a new call is as it is received): the resumed run's requests carry
    ``null``, which both SDKs encode and the strictest server reads, and the run plays on."""
    from longplay.agents.lm.cli import build_parser, run_lm
    from longplay.agents.lm.providers import AnthropicProvider, OpenAIProvider
    from longplay.agents.lm.stubserver import Reply, StubServer

    assert main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "3"]) == 0
    replay = the_replay(tmp_path)
    with edited_checkpoint(find_checkpoint(str(replay))) as data:
        call = next(b for ex in data["run"]["history"] for b in ex["reply"]["blocks"] if b["type"] == "tool_call"
                    and b["name"] == "navigate_to")
        call["arguments"], call["raw_arguments"] = {"x": float("inf"), "y": 3}, '{"x": 1e400, "y": 3}'
    with StubServer(kind, [Reply(tool_calls=[("press_buttons", '{"buttons": ["a"]}')])]) as server:
        provider = (AnthropicProvider if kind == "anthropic" else OpenAIProvider)(
            ProviderConfig(provider=kind, model="stub-model", base_url=server.base_url))
        assert run_lm(build_parser().parse_args(["--resume", str(replay), "--max-turns", "5", "--quiet"]),
                      provider=provider) == 0
    assert load_checkpoint(find_checkpoint(str(replay)))["run"]["counters"]["turns"] == 5
    messages = server.requests[0]["messages"]
    if kind == "anthropic":
        sent = [block["input"] for m in messages for block in m["content"] if block.get("id") == call["id"]]
    else:
        sent = [json.loads(c["function"]["arguments"]) for m in messages for c in m.get("tool_calls") or []
                if c["id"] == call["id"]]
    assert sent == [{"x": None, "y": 3}]


def test_a_game_boy_checkpoint_holding_another_rom_as_hex_is_one_line(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint written before the spec named a bytes ROM by SHA-1 holds the ROM as hex; when those bytes are
    not the ROM its identity names, the rebuild refuses them (naming both SHA-1s) before the env is made: a
    GameError that went past the CLI's one-line errors as a traceback."""
    import hashlib

    pytest.importorskip("pyboy")
    from longplay.envs.gameboy import cartridge

    args = ["--env", "TestCart-v0", "--runs-dir", str(tmp_path), "--quiet"]
    assert main([*args, "--max-turns", "3"]) == 0
    replay = the_replay(tmp_path)
    other = bytearray(cartridge.build_rom())
    other[0x7FFF] ^= 0xFF
    with edited_checkpoint(find_checkpoint(str(replay))) as data:
        data["env_kwargs"].pop("rom_sha1", None)
        data["env_kwargs"]["rom"] = bytes(other).hex()
    capsys.readouterr()
    assert main(["--resume", str(replay), "--max-turns", "6", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert hashlib.sha1(other).hexdigest() in err and cartridge.rom_sha1() in err and "\n" not in err, err


def test_a_run_resumed_with_other_scaffold_versions_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A component whose version changed (what it shows changed: map_memory 1 -> 2) between the run's start and its
    resume went on as the new one without a word, while the header's card still declared the old version. The
    resume notes each version that changed, and the header's ``resumes`` entry records the card it runs from there."""
    import sqlite3

    assert main([*ARGS, "--scaffold", "notes,map_memory", "--runs-dir", str(tmp_path), "--max-turns", "5"]) == 0
    replay = the_replay(tmp_path)
    conn = sqlite3.connect(replay)  # as a longplay with map_memory version 1 recorded it
    with conn:
        conn.execute("UPDATE header SET value = (SELECT json_group_array(CASE WHEN json_extract(c.value, '$.name') = "
                     "'map_memory' THEN json_set(c.value, '$.version', '1') ELSE json(c.value) END) FROM "
                     "json_each(header.value) AS c) WHERE key = 'scaffold_card'")
    conn.close()
    with ReplayReader(replay) as r:
        assert [c["version"] for c in r.header["scaffold_card"] if c["name"] == "map_memory"] == ["1"]
    capsys.readouterr()
    assert main(["--resume", str(replay), "--max-turns", "8", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "the run last ran with map_memory version 1; this longplay runs version 2" in out, out
    with ReplayReader(replay) as r:
        card = r.header["resumes"][-1]["scaffold_card"]
        assert [c["version"] for c in card if c["name"] == "map_memory"] == ["2"]
        assert [c["version"] for c in r.header["scaffold_card"] if c["name"] == "map_memory"] == ["1"]
    assert main(["--resume", str(replay), "--max-turns", "10", "--quiet"]) == 0  # the same versions since: no note
    assert "version" not in capsys.readouterr().out
    with ReplayReader(replay) as r:
        assert "scaffold_card" not in r.header["resumes"][-1]


def test_a_milestone_reached_at_the_checkpoints_own_step_is_kept(tmp_path: Path) -> None:
    """A milestone is recorded at the step that reached it, so one reached by the checkpoint's last press is at the
    checkpoint's step: the resume's cut keeps it (the resumed run never reaches it again: the checkpoint holds it)."""
    straight, one = tmp_path / "straight", tmp_path / "one"
    assert main([*ARGS, "--runs-dir", str(straight), "--max-turns", "30"]) == 0
    with ReplayReader(the_replay(straight)) as r:
        first = r.milestones()[0]
    assert main([*ARGS, "--runs-dir", str(one), "--max-steps", str(first.step)]) == 0  # stops on that press
    replay = the_replay(one)
    assert len(checkpoint_actions(load_checkpoint(find_checkpoint(str(replay))))) == first.step
    assert main(["--resume", str(replay), "--max-steps", str(first.step + 20), "--quiet"]) == 0
    with ReplayReader(replay) as r:
        assert (r.milestones()[0].step, r.milestones()[0].milestone) == (first.step, first.milestone)
    assert verify(replay).ok


def test_a_checkpoint_write_killed_halfway_leaves_the_last_one_whole(tiny_env, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint replaces the last one atomically: a run killed in the write (SIGKILL, a full disk) leaves the
    last whole checkpoint to resume from, not half of the new one that no resume can read."""
    from longplay.agents.lm.checkpoint import CheckpointStore
    from longplay.agents.lm.config import BudgetConfig, LMConfig
    from longplay.agents.lm.loop import LMRun
    from longplay.agents.lm.messages import Message, ToolCall
    from longplay.agents.lm.providers import ScriptedProvider
    from longplay.scaffolds import build_scaffold

    path = tmp_path / "run.ckpt"
    store = CheckpointStore(path, "LongplayTest/Tiny-v0", {}, None)
    press = Message("assistant", [ToolCall("c", "press_buttons", {"buttons": ["right"]}, '{"buttons": ["right"]}')])
    config = LMConfig(provider=ProviderConfig(provider="scripted", model="scripted"),
                      budget=BudgetConfig(max_turns=3))
    run = LMRun(tiny_env, ScriptedProvider([press]), build_scaffold("minimal"), config, checkpoints=store,
                sleep=lambda s: None)
    run.run()
    whole = path.read_bytes()
    write_bytes = Path.write_bytes

    def killed_halfway(self: Path, data: bytes) -> int:
        write_bytes(self, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", killed_halfway)
    with pytest.raises(KeyboardInterrupt):
        store.save(run, "every")
    monkeypatch.undo()
    assert path.read_bytes() == whole and load_checkpoint(path)["reason"] == "stop"
    assert [p.name for p in tmp_path.iterdir()] == ["run.ckpt"]  # and no partial file left beside it


def test_a_time_budget_counts_the_earlier_sessions_time(tmp_path: Path) -> None:
    """--max-seconds is wall-clock time summed over the run's sessions: a resume goes on from the time the
    checkpoint holds, not from 0 (a run resumed every hour would never reach a one-hour budget)."""
    assert main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "3"]) == 0
    replay = the_replay(tmp_path)
    with edited_checkpoint(find_checkpoint(str(replay))) as data:
        data["run"]["counters"]["seconds"] = 1000.0  # the earlier sessions ran 1000 s
    assert main(["--resume", str(replay), "--max-turns", "10", "--max-seconds", "500", "--quiet"]) == 0
    with ReplayReader(replay) as r:
        assert len(r.turns()) == 3  # stopped at once: no turn played past the budget
    assert load_checkpoint(find_checkpoint(str(replay)))["run"]["counters"]["seconds"] >= 1000.0


def test_a_resume_takes_its_new_token_budget_retries_failures_and_checkpoint_schedule(tmp_path: Path,
                                                                                     capsys) -> None:
    """--max-tokens, --max-retries, --max-failures and --checkpoint-every given with --resume replace the run's
    own (the docs list them among what a resume may change), and are not reported as ignored."""
    assert main([*ARGS, "--runs-dir", str(tmp_path), "--max-turns", "3"]) == 0
    replay = the_replay(tmp_path)
    capsys.readouterr()
    assert main(["--resume", str(replay), "--max-turns", "4", "--max-tokens", "987654", "--max-retries", "2",
                 "--max-failures", "9", "--checkpoint-every", "7"]) == 0
    assert "ignored" not in capsys.readouterr().out
    config = load_checkpoint(find_checkpoint(str(replay)))["run"]["config"]
    assert config["budget"]["max_tokens"] == 987654 and config["checkpoint"]["every_turns"] == 7
    assert (config["retry"]["max_retries"], config["retry"]["max_consecutive_failures"]) == (2, 9)


def _recorded_with_a_reward_every_step(path: Path, steps: int, turns_with_tokens: list[int]) -> None:
    """A one-episode LM replay of ``steps`` random presses on QuestMini that pays 1.0 every step (a wrapper inside
    the recorder), with one turn logged per entry of ``turns_with_tokens`` (its tokens in, and as much out)."""
    import gymnasium as gym
    import numpy as np

    import longplay.envs  # noqa: F401
    from longplay.replays.recorder import Recorder

    env = gym.wrappers.TransformReward(gym.make("longplay/QuestMini-v0"), lambda r: r + 1.0)
    with Recorder(env, path, agent="lm") as rec:
        rec.reset(seed=0)
        for action in np.random.default_rng(0).integers(0, 8, steps).tolist():
            rec.step(action)
        for tokens in turns_with_tokens:
            rec.log_turn(response="press", tokens_in=tokens, tokens_out=tokens)


def test_a_cut_inside_a_chunk_keeps_the_rewards_of_the_kept_steps_only(tmp_path: Path) -> None:
    """The checkpoint's step falls inside a chunk: the chunk's rewards are cut with its actions, so the reward of
    the step after the checkpoint (played again by the resumed run, which records it anew) is not kept twice."""
    import sqlite3

    from longplay.agents.lm.checkpoint import truncate_replay

    path = tmp_path / "run.lpr"
    _recorded_with_a_reward_every_step(path, 300, [])
    with ReplayReader(path) as r:
        assert len(r.rewards()) == 300
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM chunks").fetchone()[0] == 1  # the checkpoint's step is inside it
    conn.close()
    truncate_replay(path, steps=150, turns=0, memory=0, resume={})
    with ReplayReader(path) as r:
        assert len(r.actions()) == 150
        assert sorted(r.rewards()) == list(range(1, 151))  # paid at steps 1..150; step 151's went with its action


def test_lost_calls_that_spent_nothing_leave_no_discarded_row(tmp_path: Path) -> None:
    """Calls past the checkpoint that spent no tokens and no money (refused before any usage) are dropped without
    a "discarded" row of $0: that row stands for money spent, and compare and sweeps count it as such."""
    from longplay.agents.lm.checkpoint import NOTHING_DISCARDED, truncate_replay

    path = tmp_path / "run.lpr"
    _recorded_with_a_reward_every_step(path, 20, [10, 0, 0])  # turn 1 kept; turns 2 and 3 lost, spending nothing
    assert truncate_replay(path, steps=20, turns=1, memory=0, resume={}) == NOTHING_DISCARDED
    with ReplayReader(path) as r:
        assert [t.tokens_in for t in r.turns()] == [10] and "discarded_calls" not in r.header["resumes"][-1]
    _recorded_with_a_reward_every_step(tmp_path / "spent.lpr", 20, [10, 0, 7])  # one lost call spent tokens
    calls, usage, _ = truncate_replay(tmp_path / "spent.lpr", steps=20, turns=1, memory=0, resume={})
    assert (calls, usage.input, usage.output) == (2, 7, 7)
