"""5. Evaluation: metrics as the benchmarks compute them, retrieval search, and the evaluators.

``metrics`` (registry, classification and tagging), ``metrics_qa``, ``metrics_retrieval``, ``examples``
(per-example prediction rows),
``retrieval`` (pooled embeddings, blocked top-k, bitext mining), ``predict`` (label predictions,
decoding and scoring of the label kinds), ``targets`` (phase 3: zero-shot evaluation per language).
"""
