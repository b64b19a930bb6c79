"""How results are produced, read as the pipeline.

``tasks`` (declarations) -> ``data`` (reading) -> ``modeling`` (features, heads) -> ``training``
(the loop, mixing, variants) -> ``evaluation`` (metrics, phase 3) -> ``grid`` (many runs);
``kinds`` is the table of what each head kind does, ``pipeline`` the three phases of one run and
``run``, ``config`` its settings, ``cli`` the ``runner`` command, ``smoke`` the first check on a
new machine.
"""
