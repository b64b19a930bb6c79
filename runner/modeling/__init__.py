"""3. Modeling: model inputs and the networks that read them.

``features`` (tokenisation, windows, length-grouped batches), ``encoder`` (loading encoders and
tokenizers), ``heads`` (one head per kind and the multi-head ``TaskModel``), ``qa`` (QA windows
and span decoding; ``answer_text``: a span's text as XTREME maps it back), ``dual_encoder`` (XTREME-R retrieval pairs and embeddings).
"""
