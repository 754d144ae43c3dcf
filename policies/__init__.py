"""Learned scheduling policies: GNN pointer actor-critics trained with MaskablePPO.

Modules: ``gnn`` (padded graph batch -> message passing), ``pointer`` (the MaskablePPO policy),
``training`` and ``imitation`` (behind ``train.py``), ``export`` (ONNX with metadata),
``runtime`` (torch-free inference), ``scheduler`` (learned policies on the leaderboard),
``extras`` (the ``train`` extra: what needs torch says so when it is missing). Importing this
package imports nothing heavy, so ``policies.runtime`` stays torch-free.
"""
