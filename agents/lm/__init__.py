"""Language-model agents: one loop for any provider, tools, budgets, accounting, checkpoints.

* :mod:`~longplay.agents.lm.loop`: :class:`~longplay.agents.lm.loop.LMRun`, the turn loop.
* :mod:`~longplay.agents.lm.providers`: Anthropic, OpenAI-compatible and offline providers, retries.
* :mod:`~longplay.agents.lm.tools`: ``press_buttons``, ``navigate_to`` and argument checking.
* :mod:`~longplay.agents.lm.config`: the run's configuration (dataclasses recorded in every replay).
* :mod:`~longplay.agents.lm.checkpoint`: checkpoints and ``--resume``.
* :mod:`~longplay.agents.lm.cli`: ``longplay run --agent lm``.
* ``prices.toml``: the versioned price table.

Memory scaffolds live in :mod:`longplay.scaffolds`. Nothing here imports a provider SDK until a provider
of that kind is built.
"""
