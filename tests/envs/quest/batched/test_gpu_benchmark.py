"""benchmarks/batched_gpu.py and parity_device.py, dry-run on CPU: a lent GPU comes with minutes, so the scripts
must work the first time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[4] / "benchmarks"


@pytest.fixture()
def batched_gpu(benchmark):
    return benchmark("batched_gpu")


@pytest.fixture()
def parity_device(benchmark):
    return benchmark("parity_device")


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


def test_device_parity_runs_every_check_and_reports_an_engine_that_cannot_be_built(parity_device, capsys,
                                                                                     monkeypatch) -> None:
    built = []
    real = parity_device.make_engine
    monkeypatch.setattr(parity_device, "make_engine", lambda *a: built.append(a[0]) or real(*a))
    out = parity_device.main(["--device", "cpu", "--kinds", "eager,compiled+graph", "--sizes", "mini",
                              "--envs", "48", "--steps", "3"])
    rows = [(r["kind"], r["check"], r["result"]) for r in out["rows"]]
    checks = ["rules", "oracle", "mid-game", "new games"]
    assert rows == [("eager", c, "same") for c in checks] + [("compiled+graph", c, "failed") for c in checks]
    assert all(r["env_steps"] > 0 for r in out["rows"][:4])
    assert built == ["eager", "compiled+graph"]  # a failed build is not retried for every check
    assert "capture_graph needs a CUDA device" in out["rows"][-1]["error"]
    assert "4 checks the same" in capsys.readouterr().out


def test_device_parity_names_the_first_difference(parity_device, monkeypatch) -> None:
    from longplay.envs.quest.batched.engine import BatchedQuest

    def wrong_reward(self, actions):  # a batched engine that counts one milestone too many
        obs, reward, terminated, truncated, info = step(self, actions)
        return obs, reward + 1, terminated, truncated, info

    step = BatchedQuest.step
    monkeypatch.setattr(BatchedQuest, "step", wrong_reward)
    out = parity_device.main(["--device", "cpu", "--kinds", "eager", "--sizes", "mini", "--envs", "48",
                              "--steps", "3"])
    assert {r["result"] for r in out["rows"]} == {"differs"}
    assert out["rows"][0]["error"].startswith("reward at step 1: envs")


def test_device_parity_says_when_its_envs_leave_rule_scripts_out(parity_device) -> None:
    """``--envs`` below a world's script count ran only the first scripts, its line reading '8 scripts' as if
    that were all of them (the help said 'at least 62', which nothing enforced)."""
    from longplay.envs.quest import worldgen
    from longplay.envs.quest.batched.parity import targeted_states

    scripts = len(targeted_states(worldgen.build_world("mini", 0), seed=5))
    out = parity_device.main(["--device", "cpu", "--kinds", "eager", "--sizes", "mini", "--envs", "8",
                              "--steps", "1"])
    rules, oracle = out["rows"][:2]
    assert rules["result"] == oracle["result"] == "same"
    assert rules["note"].startswith(f"8 of {scripts} scripts (one per env: --envs 8 leaves the rest out), ")
    assert oracle["note"].startswith("8 of ") and oracle["note"].endswith(" pieces of the oracle's games (one per "
                                                                         "env: --envs 8 leaves the rest out)")


@pytest.mark.skipif(shutil.which("bash") is None, reason="device_check.sh is a bash script")
@pytest.mark.parametrize("interpreter, said", [("no-torch", "has no torch (set PYTHON"),
                                               ("missing", "no Python interpreter")])
def test_device_check_without_torch_says_so_in_one_line(tmp_path: Path, interpreter: str, said: str) -> None:
    """It ran ``python3`` from PATH, which has no torch where a venv is not activated: a traceback (or a call for
    gymnasium wheels) after the set-up, and ``$PYTHON`` was not heard."""
    python = tmp_path / interpreter
    if interpreter == "no-torch":  # an interpreter whose every import fails
        python.write_text("#!/bin/sh\nexit 1\n")
        python.chmod(0o755)
    out = tmp_path / "out"
    done = subprocess.run(["bash", str(BENCHMARKS / "device_check.sh")], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHON": str(python), "DEVICE": "cpu", "OUT": str(out)})
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("device_check: ") and str(python) in line and said in line
    assert not out.exists()  # stopped before it made anything
