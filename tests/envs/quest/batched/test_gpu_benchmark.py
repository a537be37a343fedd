"""benchmarks/batched_gpu.py, dry-run on CPU: a lent GPU comes with minutes, so the script must work the first time."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[4] / "benchmarks"


@pytest.fixture()
def batched_gpu():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import batched_gpu

        yield batched_gpu
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert str(BENCHMARKS) not in sys.path  # the script adds its folder only where it is missing


def test_the_plan_runs_in_order_and_writes_its_rows(batched_gpu, tmp_path, capsys):
    out = batched_gpu.main(["--device", "cpu", "--plan", "symbolic:eager:4,pixels:eager:2,symbolic:eager:8",
                            "--seconds", "0.05", "--json", str(tmp_path / "gpu.json")])
    assert [(r["obs"], r["batch"]) for r in out["rows"]] == [("symbolic", 4), ("pixels", 2), ("symbolic", 8)]
    assert all(r["rate"] > 0 and r["ratio"] == r["rate"] / out["reference"][r["obs"]] for r in out["rows"])
    assert json.loads((tmp_path / "gpu.json").read_text())["rows"] == out["rows"]
    printed = capsys.readouterr().out
    assert "| symbolic | eager | 8 |" in printed and "best symbolic:" in printed


def test_nothing_starts_past_the_budget(batched_gpu):
    out = batched_gpu.main(["--device", "cpu", "--plan", "symbolic:eager:4,symbolic:compiled:4", "--seconds",
                            "0.05", "--budget-s", "0"])
    assert [r.get("skipped") for r in out["rows"]] == ["budget", "budget"]


@pytest.mark.parametrize("item", ["symbolic:eager", "text:eager:4", "symbolic:jit:4", "symbolic:eager:0"])
def test_a_bad_plan_item_is_refused_with_its_text(batched_gpu, item):
    with pytest.raises(ValueError, match=item):
        batched_gpu.parse_plan(f"symbolic:eager:4,{item}")


def test_without_cuda_it_exits_with_a_message(batched_gpu, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(SystemExit):
        batched_gpu.main([])
    assert "no CUDA device" in capsys.readouterr().err


def test_a_bad_plan_on_the_command_line_is_a_usage_error(batched_gpu, capsys):
    with pytest.raises(SystemExit) as exit_:
        batched_gpu.main(["--device", "cpu", "--plan", "symbolic:jit:4"])
    assert exit_.value.code == 2
    assert "--plan: bad plan item 'symbolic:jit:4'" in capsys.readouterr().err


def test_a_graph_check_failure_says_whether_uncaptured_engines_differ_too(batched_gpu) -> None:
    from longplay.envs.quest.batched.engine import BatchedQuest
    from longplay.envs.quest.batched.parity import ParityError

    engine = BatchedQuest(4, size="mini", max_episode_steps=2000)
    batched_gpu.check_graph(engine, 12)  # agrees with itself uncaptured
    step = engine.step

    def off_by_one(actions):  # a graph that gets the reward wrong
        obs, reward, terminated, truncated, info = step(actions)
        return obs, reward + 1, terminated, truncated, info

    engine.step = off_by_one
    with pytest.raises(ParityError, match=r"^graph: reward differs at step 0; two uncaptured engines agree$"):
        batched_gpu.check_graph(engine, 12)
