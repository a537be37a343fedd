"""``RunLog``: a resumed run's scalars continue the run's, in ``metrics.jsonl`` and in TensorBoard alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from longplay.agents.rl.runlog import RunLog, read_metrics


def _tensorboard_steps(run_dir: Path, tag: str) -> list[int]:
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    events = accumulator.EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    events.Reload()
    return [e.step for e in events.Scalars(tag)]


def test_a_resume_keeps_the_checkpoints_step_and_replaces_the_later_ones(tmp_path: Path) -> None:
    pytest.importorskip("torch.utils.tensorboard")
    log = RunLog(tmp_path)
    for step in (32, 64, 96):
        log.scalars({"charts/learning_rate": step}, step)
    log.close()
    # resumed from the checkpoint at 64: its point stays (it is not logged again), 96 is logged anew
    log = RunLog(tmp_path, resume_step=64)
    log.scalars({"charts/learning_rate": 96.5}, 96)
    log.close()
    assert [(p["step"], p["charts/learning_rate"]) for p in read_metrics(tmp_path)] == [(32, 32), (64, 64),
                                                                                       (96, 96.5)]
    assert _tensorboard_steps(tmp_path, "charts/learning_rate") == [32, 64, 96]


def test_a_resume_drops_the_replay_of_an_evaluation_the_run_was_killed_in(tmp_path: Path) -> None:
    """A run killed (SIGKILL) while recording an evaluation left its replay, cut short and with no eval.jsonl
    line; resumed, the run kept it, and ``longplay compare RUN/replays`` charted it as that step's evaluation."""
    replays = tmp_path / "replays"
    replays.mkdir()
    done = "20260101-000000__QuestMini-v0__ppo__r-step32__seed10000.lpr"
    cut = "20260101-000001__QuestMini-v0__ppo__r-step64__seed10000.lpr"
    for name in (done, cut, cut + "-wal", cut + "-shm", cut + "-lock"):
        (replays / name).write_bytes(b"x")
    (tmp_path / "eval.jsonl").write_text(json.dumps({"step": 32, "replay": f"elsewhere/{done}"}) + "\n")
    RunLog(tmp_path, resume_step=64, tensorboard=False).close()
    assert sorted(p.name for p in replays.iterdir()) == [done]


def test_a_resume_removes_the_partial_checkpoints_of_saves_killed_outright(tmp_path: Path) -> None:
    """A run SIGKILLed while saving a checkpoint left ``checkpoints/.partial-...`` (a checkpoint's size); only a
    run stopped before its first checkpoint removed them, so each kill of a resumed run added one."""
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    kept = ["step_64.zip", "latest.txt"]
    for name in (*kept, ".partial-step_96.zip.0123abcd.tmp", ".partial-step_128.zip"):  # (and the older naming)
        (checkpoints / name).write_bytes(b"x")
    RunLog(tmp_path, resume_step=64, tensorboard=False).close()
    assert sorted(p.name for p in checkpoints.iterdir()) == sorted(kept)


@pytest.mark.parametrize("finished", [True, False])
def test_a_resume_reads_the_metrics_and_evaluations_once(finished: bool, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Each was read twice on resume (a long run's metrics.jsonl is many megabytes); what is kept is unchanged:
    an evaluation at the resume step stays when its result was logged, and goes (replay too) when not."""
    replays = tmp_path / "replays"
    replays.mkdir()
    names = {step: f"20260101-000000__Toy__ppo__r-step{step}__seed10000.lpr" for step in (32, 64, 96)}
    for name in names.values():
        (replays / name).write_bytes(b"x")
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps({"step": s, "replay": f"r/{n}"}) + "\n"
                                                 for s, n in names.items()))
    points = [{"step": 32, "charts/eval/milestones": 1.0}, {"step": 64, "charts/SPS": 5.0},
              {"step": 96, "charts/eval/milestones": 2.0}]
    if finished:
        points.insert(2, {"step": 64, "charts/eval/milestones": 1.5})
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(p) + "\n" for p in points))
    reads: dict[str, int] = {}
    read_text = Path.read_text

    def counted(path: Path, *args, **kwargs) -> str:
        reads[path.name] = reads.get(path.name, 0) + 1
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counted)
    RunLog(tmp_path, resume_step=64, tensorboard=False).close()
    assert reads == {"metrics.jsonl": 1, "eval.jsonl": 1}
    kept = [32, 64] if finished else [32]
    assert [json.loads(line)["step"] for line in (tmp_path / "eval.jsonl").read_text().splitlines()] == kept
    assert sorted(p.name for p in replays.iterdir()) == sorted(names[s] for s in kept)
    assert [p["step"] for p in read_metrics(tmp_path)] == [p["step"] for p in points if p["step"] <= 64]


def test_the_evaluated_steps_are_those_kept_on_resume_and_those_logged_since(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The learners asked ``evaluated_steps(run_dir)`` on resume, reading metrics.jsonl again each time; RunLog
    answers from its one read."""
    from longplay.agents.rl.runlog import EVAL_TAG, SELECT_TAG

    points = [{"step": 32, EVAL_TAG: 1.0, SELECT_TAG: 0.5}, {"step": 64, EVAL_TAG: 2.0}, {"step": 96, EVAL_TAG: 3.0}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(p) + "\n" for p in points))
    log = RunLog(tmp_path, resume_step=64, tensorboard=False)
    monkeypatch.setattr(Path, "read_text", lambda *a, **k: pytest.fail("metrics.jsonl read again"))
    assert log.evaluated_steps() == {32, 64} and log.evaluated_steps(SELECT_TAG) == {32}
    log.scalars({EVAL_TAG: 4.0, "charts/SPS": 1.0}, 96)
    log.scalars({SELECT_TAG: float("nan")}, 96)  # not logged: not a score
    assert log.evaluated_steps() == {32, 64, 96} and log.evaluated_steps(SELECT_TAG) == {32}
    log.close()
    assert RunLog(tmp_path / "fresh", tensorboard=False).evaluated_steps() == set()


def test_episode_stats_rate_every_milestone_of_the_catalog_and_those_reached_outside_it() -> None:
    """SB3's rates were logged only for the milestones an episode of the window reached (ppo-device logs the whole
    catalog): a milestone's chart had gaps where no episode reached it. A milestone outside the catalog that an
    episode reached (another world's) is rated from then on; episodes that give only a count rate none."""
    from longplay.agents.rl.runlog import EpisodeStats

    stats = EpisodeStats(["left_house", "got_partner"])
    stats.add(1.0, 10, {"left_house": 3})  # reference envs' info: id -> step reached
    stats.add(0.0, 10, [])
    assert {k: v for k, v in stats.summary().items() if "milestone_rate" in k} == {
        "charts/milestone_rate/left_house": 0.5, "charts/milestone_rate/got_partner": 0.0}
    stats.clear()
    stats.add(2.0, 10, ["left_house", "reached_zelwind_path"])  # the batched engine's adapter: ids
    stats.add(0.0, 10, [])
    assert [(k, v) for k, v in stats.summary().items() if "milestone_rate" in k] == [
        ("charts/milestone_rate/left_house", 0.5), ("charts/milestone_rate/got_partner", 0.0),
        ("charts/milestone_rate/reached_zelwind_path", 0.5)]
    stats.clear()
    stats.add(1.0, 10, [])
    assert stats.summary()["charts/milestone_rate/reached_zelwind_path"] == 0.0
    stats.clear()
    stats.add(1.0, 10, 1)  # the toy engine's count names none
    assert not [k for k in stats.summary() if "milestone_rate" in k]
    # an episode that does not name its milestones (a count, or an info without them) says nothing of a rate: the
    # rates are of the episodes that named theirs
    stats.add(1.0, 10, ["left_house"])
    stats.add(1.0, 10, None)
    assert stats.summary()["charts/milestone_rate/left_house"] == 1.0
    assert stats.summary()["charts/episodes"] == 3.0


def test_a_resume_killed_while_dropping_the_later_points_keeps_the_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill_writes_halfway: Callable[[str], None]) -> None:
    """metrics.jsonl (and eval.jsonl) were rewritten in place on resume: a kill in the write lost the run's log."""
    log = RunLog(tmp_path, tensorboard=False)
    for step in (32, 64, 96):
        log.scalars({"charts/learning_rate": step}, step)
    log.close()
    saved = (tmp_path / "metrics.jsonl").read_text()
    kill_writes_halfway("metrics.jsonl")
    with pytest.raises(KeyboardInterrupt):
        RunLog(tmp_path, resume_step=64, tensorboard=False)
    monkeypatch.undo()
    assert (tmp_path / "metrics.jsonl").read_text() == saved
    RunLog(tmp_path, resume_step=64, tensorboard=False).close()
    assert [p["step"] for p in read_metrics(tmp_path)] == [32, 64]


@pytest.mark.parametrize("name", ["metrics.jsonl", "eval.jsonl"])
def test_a_resume_drops_a_last_line_cut_short(name: str, tmp_path: Path) -> None:
    """A run stopped while writing a line (a full disk, the machine going down) left it cut short, and every
    resume failed with json's 'Unterminated string starting at: line 1 column 17', naming no file. The line was
    written after the newest checkpoint (each is saved after its point, and an evaluation's result after its
    lines), so it goes like the rest of the replaced part; a damaged line elsewhere is named."""
    whole = [json.dumps({"step": step, "charts/learning_rate": step}) for step in (16, 32)]
    (tmp_path / name).write_text("\n".join(whole) + '\n{"step": 96, "charts/lea')
    RunLog(tmp_path, resume_step=64, tensorboard=False).close()
    assert (tmp_path / name).read_text() == "".join(line + "\n" for line in whole)
    (tmp_path / name).write_text(whole[0] + '\n{"step": 4\n' + whole[1] + "\n")
    with pytest.raises(ValueError, match=rf"^cannot read line 2 of {tmp_path / name}: "):
        RunLog(tmp_path, resume_step=64, tensorboard=False)
