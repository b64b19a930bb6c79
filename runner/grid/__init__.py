"""6. Grids: many runs at once, where they execute, and what they will cost.

``chains`` (a selection expanded into chains of runs sharing an intermediate checkpoint),
``executors`` (local, SLURM through submitit), ``plan`` (``runner plan``: GPU-hours per phase),
``throughput`` (configured, measured or assumed tokens per second).
"""
