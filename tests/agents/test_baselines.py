"""The baselines: the explorer makes real progress from the symbolic view alone; both are deterministic."""

from __future__ import annotations

import gymnasium as gym
import pytest

import longplay.envs  # noqa: F401  (registers the ids)
from longplay.agents.baselines import ExplorerAgent, RandomAgent


def _play(agent, steps: int, seed: int = 0) -> dict[str, int]:
    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic", max_episode_steps=None)
    obs, info = env.reset(seed=seed)
    agent.reset(env, obs, info, seed)
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
        if terminated or truncated:
            break
    return dict(info["milestones"])


def test_explorer_takes_a_partner_and_leaves_town() -> None:
    # It walks out of the house, finds the capsule table and talks to it, and does not loop through a door.
    reached = _play(ExplorerAgent(), 2_500)
    assert {"left_house", "got_partner"} <= set(reached)
    assert len(reached) >= 4, reached


def test_explorer_walks_on_to_a_person_who_leaves_its_view() -> None:
    # Quest-v0, world of seed 12: a person at the view's left edge is reached only by a detour to the right, one
    # step of which takes the person out of sight; the explorer turned back to the tile it had left, saw the person
    # again, and turned left and right on those two tiles for the rest of the run (1 milestone in 5,000 steps).
    env = gym.make("longplay/Quest-v0", obs_mode="symbolic")
    obs, info = env.reset(seed=12)
    agent = ExplorerAgent()
    agent.reset(env, obs, info, 12)
    tiles = set()
    for step in range(2_500):
        obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
        if step >= 2_000:
            tiles.add(tuple(int(v) for v in obs["vector"][2:5]))
    assert len(tiles) > 2, tiles
    assert "got_partner" in info["milestones"], info["milestones"]


def test_baselines_are_deterministic() -> None:
    for make in (ExplorerAgent, RandomAgent):
        assert _play(make(), 1_500, seed=3) == _play(make(), 1_500, seed=3)



def test_a_reused_agent_plays_a_new_episode_as_a_fresh_one() -> None:
    """``reset`` forgets the last episode (tiles stood on, people talked to, the path): an agent that played seed 0
    and is reset for seed 1 presses what a new agent would for seed 1, so a runner that keeps one agent across
    episodes gets the same run per seed."""
    def presses(agent, seed: int, steps: int = 600) -> list[int]:
        env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic", max_episode_steps=None)
        obs, info = env.reset(seed=seed)
        agent.reset(env, obs, info, seed)
        out = []
        for _ in range(steps):
            out.append(agent.act(obs, info))
            obs, _, _, _, info = env.step(out[-1])
        return out

    for make in (ExplorerAgent, RandomAgent):
        reused = make()
        presses(reused, 0)
        assert presses(reused, 1) == presses(make(), 1), make.name


def test_random_presses_every_button_and_its_seed_decides_which() -> None:
    """The random agent presses one of the eight buttons uniformly at random, seeded per episode: every button
    comes up, none more than chance allows, and another seed is another run."""
    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    obs, info = env.reset(seed=0)
    presses = {}
    for seed in (0, 1):
        agent = RandomAgent()
        agent.reset(env, obs, info, seed)
        presses[seed] = [agent.act(obs, info) for _ in range(800)]
    env.close()
    counts = [presses[0].count(b) for b in range(8)]
    assert sorted(set(presses[0])) == list(range(8)) and max(counts) < 150, counts  # about 100 each
    assert presses[0] != presses[1]

class _CtrlCInsideStep(gym.Wrapper):
    """Ctrl+C arriving while a step is under way: after the game pressed the button, before the step returns."""

    def __init__(self, env: gym.Env, at: int) -> None:
        super().__init__(env)
        self.at, self.steps = at, 0

    def step(self, action):  # type: ignore[no-untyped-def]
        result = self.env.step(action)
        self.steps += 1
        if self.steps == self.at:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGINT)
        return result


def test_ctrl_c_stops_a_run_between_steps_and_the_replay_verifies(tmp_path) -> None:
    # Raised inside the step, the interrupt left the game a press ahead of the recorded actions: the hash taken as
    # the replay closed matched no recorded state and verify failed the run (4 of 4 Ctrl+C's of longplay run)
    import pytest

    from longplay.agents.runner import run
    from longplay.replays.recorder import Recorder
    from longplay.replays.verify import verify

    path = tmp_path / "run.lpr"
    env = Recorder(_CtrlCInsideStep(gym.make("longplay/QuestMini-v0"), at=300), path, env_id="longplay/QuestMini-v0")
    with pytest.raises(KeyboardInterrupt):
        run(env, RandomAgent(), 10_000, progress=False)
    env.close()
    report = verify(path)
    assert report.ok and report.steps == 300, report.summary()


def test_a_held_ctrl_c_goes_to_the_handler_that_was_there(tmp_path) -> None:
    # a sweep's pool worker stops its cell with its own SIGINT handler (the first raises, repeats are ignored)
    import signal

    import pytest

    from longplay.agents.runner import run

    calls = []

    def worker_handler(signum, frame) -> None:  # type: ignore[no-untyped-def]
        calls.append(signum)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, worker_handler)
    try:
        env = _CtrlCInsideStep(gym.make("longplay/QuestMini-v0"), at=50)
        with pytest.raises(KeyboardInterrupt):
            run(env, RandomAgent(), 1_000, progress=False)
        assert calls == [signal.SIGINT] and env.steps == 50  # after the step, once
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # what the worker's handler set stays
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("agent", ["random", "explorer", "oracle"])
def test_make_agent_refuses_an_option_the_agent_does_not_take(agent: str) -> None:
    """Every agent took any keyword and dropped it: ``make_agent("random", checkpoint="policy.pt")`` played random
    presses as if a policy had been loaded."""
    from longplay.agents.base import make_agent

    with pytest.raises(ValueError, match=f"agent '{agent}' takes no option 'checkpoint'"):
        make_agent(agent, checkpoint="policy.pt")
    assert make_agent(agent).name == agent
