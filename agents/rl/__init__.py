"""RL learners for longplay envs: ``longplay train`` and the ``ppo`` agent.

* :mod:`~longplay.agents.rl.config`: :class:`TrainConfig`, every setting with its docstring;
* :mod:`~longplay.agents.rl.sb3_train`: Stable-Baselines3 PPO (``--learner ppo``);
* :mod:`~longplay.agents.rl.ppo_device`: PPO on the device over the batched engine (``--learner ppo-device``);
* :mod:`~longplay.agents.rl.policy_agent`: the ``ppo`` agent that plays any checkpoint;
* :mod:`~longplay.agents.rl.cli`: the ``train`` subcommand.

Nothing heavy is imported here: torch and Stable-Baselines3 load when a learner or the agent is used.
"""
