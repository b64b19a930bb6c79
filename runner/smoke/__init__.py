"""``runner smoke``: a tiny model and fixture datasets built locally, one pair run end to end.

``fixtures`` builds a random XLM-R-style model with a locally trained tokenizer and local copies of
Hub dataset repos in their exact schemas; ``command`` runs a pair on them on this machine's device.
"""
