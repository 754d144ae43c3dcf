"""VM rescheduling baselines (``schedgym/VMReschedule-v2``): one module per algorithm; ``models``,
``ordering`` and ``plan`` are the CP-SAT machinery that ``cpsat`` and ``pop`` share."""
