"""1. Task declarations: every catalog task as data (Hub splits, head kind, labels, stages, test sets).

``records`` (the record types), ``text`` (classification, multiple choice, tagging), ``qa``
(question answering and retrieval), ``registry`` (lookup by name, checked against the catalog).
"""
