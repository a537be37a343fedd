"""Experiment grids: ``longplay sweep GRID.toml`` runs many runs at once and gives one table and one chart.

A grid file (:mod:`~longplay.agents.sweep.grid`) names envs, agents or learners, models, scaffolds, seeds and
budgets; every combination is a :class:`~longplay.agents.sweep.cells.Cell`, one ``longplay run`` or
``longplay train`` with its replay in the sweep's output folder. :func:`~longplay.agents.sweep.cells.execute_cell`
performs one cell in whatever process it is handed to; a backend (:mod:`~longplay.agents.sweep.backends`:
this process, a local process pool, or Ray) runs many, and the scheduler
(:mod:`~longplay.agents.sweep.scheduler`) decides when, within the grid's dollar and token budget and the
concurrency allowed per provider. Each cell's state is a small JSON file, so a sweep that is run again skips
what is done and resumes what was interrupted. At the end, :mod:`~longplay.agents.sweep.results` writes the
results table (CSV and markdown) and the ``longplay compare`` chart over the sweep's replays.

Nothing heavy is imported here: the modules import their dependencies when used.
"""
