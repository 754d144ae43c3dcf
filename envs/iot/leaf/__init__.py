"""SchedGym IoT placement inside LEAF (``leafsim``, the fog/edge energy simulator of Wiesner and
Thamsen, https://github.com/dos-group/leaf), an optional extra: ``pip install schedgym[leaf]``.

- :mod:`.network`: a SchedGym :class:`~schedgym.envs.iot.types.Topology` as a LEAF
  ``Infrastructure`` (nodes with ``PowerModelNode``, links with ``PowerModelLink``).
- :mod:`.orchestrator`: a ``leaf.orchestrator.Orchestrator`` whose
  ``_processing_task_placement`` asks a SchedGym baseline or an exported ONNX policy.
- :mod:`.run`: one workload played in LEAF under that orchestrator, with LEAF's energy.

Only these modules import ``leaf``; ``import schedgym`` never does.
"""
