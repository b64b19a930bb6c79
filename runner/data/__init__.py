"""2. Data reading: Hub dataset repos or local mirrors of them, read in their exact schemas.

``read`` (locations, splits, label lists, the text adapters), ``adapters_qa`` (question-answering
and retrieval rows).
"""
