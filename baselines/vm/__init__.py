"""VM rescheduling baselines (``schedgym/VMReschedule-v1``): one module per algorithm; ``models``,
``ordering`` and ``plan`` are the CP-SAT machinery that ``cpsat`` and ``pop`` share."""
