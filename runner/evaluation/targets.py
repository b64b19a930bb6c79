"""Phase 3: zero-shot evaluation of a target, one record per language.

The target's evaluated kind (its last stage's head, else its own kind) picks the method through
the kind table (``runner.kinds``, ``evaluate_target``):

* Label kinds (XNLI, PAWS-X, XCOPA, UD-POS, WikiANN): the phase-2 model predicts the test set's
  labels; the kind's decoder and scorer give accuracy or seqeval F1/P/R.
* QA (XQuAD, MLQA, TyDiQA): the phase-2 model decodes answers (``runner.modeling.qa``); EM/F1 with the
  test source's scorer (``metric`` column: ``squad`` by default, ``mlqa`` for MLQA).
* BUCC and Tatoeba: no phase 2. The encoder of phase 1 (or the pretrained one for ``none``) gives
  mean-pooled states of one layer (``runner.evaluation.retrieval``). Tatoeba: each English sentence queries the
  source sentences (``utils_retrieve.similarity_search`` indexes the source side), accuracy of the
  nearest one. BUCC: mined candidates; the F1-optimal threshold of the language's dev split is
  applied to its test split.
* LAReQA: every language's questions rank the pool of every sentence of every paragraph in all 11
  languages, each encoded as sentence + paragraph concatenated; the 11 translations of the answer
  sentence are relevant (mAP@20; ``adapters_qa.lareqa_pool``). Mewsli-X: each mention ranks the whole
  entity pool (mAP@20 as ``utils_mewslix.evaluate``). Both use the phase-2 dual encoder.

A record is ``{"language", "n_examples", "metrics", "predictions", ...}``, written by the pipeline;
with ``RunConfig.predictions`` it also holds ``examples``: one row per evaluated example in the
columns of ``store.predictions`` (``runner.evaluation.examples``), or None where a target has no
per-example unit (BUCC mines pairs over the whole corpus).
"""

from __future__ import annotations

import json
from pathlib import Path

from runner.data.adapters_qa import bucc_corpus, lareqa_pool
from runner.data.read import read_source
from runner.evaluation import examples as example_rows
from runner.evaluation.metrics_retrieval import bucc_f1, bucc_optimal_threshold, map_at_k, mewslix_map_at_20, tatoeba_accuracy
from runner.evaluation.predict import predict
from runner.evaluation.retrieval import bucc_candidates, mean_pooled, n_layers_of, reference_layer, top_k
from runner.modeling import qa
from runner.modeling.dual_encoder import embed_texts
from runner.modeling.encoder import load_encoder
from runner.tasks.records import Source
from runner.training.device import autocast


class TargetEvaluator:
    """Evaluates one target language by language with its kind's method; loads its model once.

    Args:
        runner: the run's ``runner.pipeline.Runner`` (tokenizer, cached features, model loading).
        kind: the kind-table entry of what is evaluated (``TaskSpec.eval_kind``).
    """

    def __init__(self, runner, kind):
        self.runner = runner
        self.kind = kind
        self.cfg = runner.cfg
        self.lay = runner.lay
        self.target = runner.lay.target
        self._model = None
        self._pool = None

    def __call__(self, lang: str, src: Source) -> dict:
        return self.kind.evaluate_target(self, lang, src)

    # ------------------------------------------------------------------------------- helpers
    def _limit(self) -> int | None:
        return self.cfg.train.max_eval_examples

    def _keep(self, record: dict, rows) -> dict:
        """The record with its per-example rows when the run keeps predictions."""
        if self.cfg.predictions:
            record["examples"] = rows() if callable(rows) else rows
        return record

    def _read(self, src: Source, limit: int | None = None) -> list[dict]:
        return read_source(src, (), self.lay.loc, limit)

    def _autocast(self):
        return autocast(self.runner.device, self.cfg.train.precision)

    def _phase2_model(self, n_labels: int = 0):
        """The model selected in the last phase-2 stage, with its head."""
        if self._model is None:
            _, folder = self.lay.stage_dirs[-1]
            self._model = self.runner._model(folder / "best" / "encoder", {self.target.name: (self.kind.name, n_labels)},
                                             folder / "best")
            self._model.to(self.runner.device)
        return self._model

    def _encoder(self):
        """The encoder retrieval without fine-tuning pools: phase 1's, or the pretrained model."""
        if self._model is None:
            start: Path | str = self.lay.inter_dir / "best" / "encoder" if self.lay.inter_dir else self.cfg.model
            self._model = load_encoder(start).to(self.runner.device)
        return self._model

    def _embedder(self):
        encoder = self._encoder()
        layer = reference_layer(n_layers_of(encoder), self.cfg.retrieval.layer)

        def embed(texts):
            return mean_pooled(encoder, self.runner.tokenizer, texts, layer, self.cfg.retrieval.max_length,
                               self.cfg.train.eval_batch_size, self.runner.device, self._autocast())

        return embed, layer

    # -------------------------------------------------------------------------------- kinds
    def labelled(self, lang: str, src: Source) -> dict:
        """Label kinds: predictions of the test set, scored with the kind's scorer."""
        labels = self.target.labels
        model = self._phase2_model(len(labels))
        enc = self.runner._encoded(json.dumps([repr(src), self._limit()]), self.kind,
                                   lambda: read_source(src, labels, self.lay.loc, self._limit()), labels)
        pad = self.runner.tokenizer.pad_token_id or 0
        preds = predict(model, enc, self.target.name, self.cfg.train, self.runner.device, pad, self.kind.decode)
        metrics = self.kind.score(labels, "f1" if "f1" in self.target.metrics else "accuracy", enc, preds)
        record = {"language": lang, "n_examples": len(set(enc.example_ids)), "metrics": metrics,
                  "labels": list(labels), "predictions": preds}  # label indices (choice index for MC)
        return self._keep(record, lambda: self.kind.example_rows(
            read_source(src, labels, self.lay.loc, self._limit()), enc, preds, labels))

    def retrieval(self, lang: str, src: Source) -> dict:
        """Retrieval without fine-tuning: Tatoeba (nearest neighbour) or BUCC (mining)."""
        return self.tatoeba(lang, src) if self.target.name == "tatoeba" else self.bucc(lang, src)

    def dual_encoder(self, lang: str, src: Source) -> dict:
        """Retrieval with the phase-2 dual encoder: LAReQA or Mewsli-X."""
        return self.lareqa(lang, src) if self.target.name == "lareqa" else self.mewslix(lang, src)

    def question_answering(self, lang: str, src: Source) -> dict:
        """Span extraction: n-best answers of the phase-2 model, EM/F1 with the source's scorer."""
        model = self._phase2_model()
        enc = self.runner._encoded(json.dumps([repr(src), self._limit(), "qa"]), self.kind,
                                   lambda: self._read(src, self._limit()), (), training=False,
                                   **self.kind.options(self.cfg, None))
        metric = src.columns.get("metric", "squad")
        pad = self.runner.tokenizer.pad_token_id or 0
        metrics, predictions = qa.evaluate(model, enc, self.target.name, self.cfg.train, self.cfg.qa, self.runner.device,
                                           pad, metric, lang)
        n = sum(1 for ex in enc.extra["examples"] if ex["answers"] or metric == "squad_v2")
        record = {"language": lang, "n_examples": n, "metrics": metrics, "predictions": predictions}
        return self._keep(record, lambda: example_rows.qa_rows(self._read(src, self._limit()), predictions, metric, lang,
                                                               example_rows.qa_tokens(enc)))

    def tatoeba(self, lang: str, src: Source) -> dict:
        rows = self._read(src, self._limit())
        embed, layer = self._embedder()
        src_emb, eng_emb = embed([r["src"] for r in rows]), embed([r["tgt"] for r in rows])
        _, index = top_k(eng_emb, src_emb, 1, self.cfg.retrieval.block_size, self.runner.device)
        predictions = index[:, 0].tolist()
        accuracy = tatoeba_accuracy(predictions, list(range(len(rows))))
        record = {"language": lang, "n_examples": len(rows), "metrics": {"accuracy": accuracy}, "layer": layer,
                  "predictions": predictions}
        # each source sentence's English translation is its gold; the nearest neighbour is the prediction
        return self._keep(record, lambda: example_rows.ranking_rows(
            [(i, r["src"]) for i, r in enumerate(rows)], [[p] for p in predictions], [{i} for i in range(len(rows))], k=1))

    def bucc(self, lang: str, src: Source) -> dict:
        embed, layer = self._embedder()
        rc = self.cfg.retrieval

        def mined(rows):  # the Hub's gold pairs, or the shared task's corpus with its distractors
            src_ids, src_texts, tgt_ids, tgt_texts, gold = bucc_corpus(rows)
            cands = bucc_candidates(src_ids, src_texts, tgt_ids, tgt_texts, embed, rc.neighbourhood, rc.block_size,
                                    self.runner.device)
            return cands, gold

        dev_cands, dev_gold = mined(self._read(self.target.extra[f"dev/{lang}"], self._limit()))
        threshold = bucc_optimal_threshold(dev_cands, dev_gold)
        test_cands, test_gold = mined(self._read(src, self._limit()))
        metrics = bucc_f1(test_cands, test_gold, threshold)
        extracted = sorted([s, t, v] for (s, t), v in test_cands.items() if v >= threshold)
        record = {"language": lang, "n_examples": len(test_gold), "metrics": metrics, "threshold": threshold,
                  "layer": layer, "predictions": extracted}
        return self._keep(record, None)  # mining scores pairs over the whole corpus: no per-example unit

    def _lareqa_pool(self) -> dict:
        """Questions per language, the candidate pool of all languages, relevant candidates per
        question id (``adapters_qa.lareqa_pool``: as XTREME-R builds them)."""
        if self._pool is None:
            rows = {lang: self._read(source, self._limit()) for lang, source in self.target.test.items()}
            questions, candidates, relevant = lareqa_pool(rows)
            self._pool = {"questions": questions, "candidates": candidates, "relevant": relevant, "emb": None}
        return self._pool

    def lareqa(self, lang: str, src: Source) -> dict:
        model = self._phase2_model()
        pool = self._lareqa_pool()
        lengths = self.target.stages[-1].train.columns
        batch = self.cfg.train.eval_batch_size
        if pool["emb"] is None:
            pool["emb"] = embed_texts(model, self.target.name, self.runner.tokenizer, [c for _, c in pool["candidates"]],
                                      int(lengths["candidate_length"]), batch, self.runner.device, self._autocast())
        qs = pool["questions"][lang]
        q_emb = embed_texts(model, self.target.name, self.runner.tokenizer, [q for _, q in qs],
                            int(lengths["query_length"]), batch, self.runner.device, self._autocast())
        _, index = top_k(q_emb, pool["emb"], 20, self.cfg.retrieval.block_size, self.runner.device, cosine=False)
        ranked = [[pool["candidates"][j][0] for j in row] for row in index.tolist()]
        value = map_at_k(ranked, [pool["relevant"][qid] for qid, _ in qs], 20)
        record = {"language": lang, "n_examples": len(qs), "metrics": {"map@20": value},
                  "predictions": {qid: r for (qid, _), r in zip(qs, ranked)}}
        return self._keep(record, lambda: example_rows.ranking_rows(qs, ranked, [pool["relevant"][qid] for qid, _ in qs]))

    def mewslix(self, lang: str, src: Source) -> dict:
        model = self._phase2_model()
        length = int(self.target.stages[-1].train.columns["query_length"])
        batch = self.cfg.train.eval_batch_size
        if self._pool is None:
            entities = self._read(self.target.extra["entities"])
            self._pool = {"ids": [e["id"] for e in entities],
                          "emb": embed_texts(model, self.target.name, self.runner.tokenizer, [e["text"] for e in entities],
                                             int(self.target.stages[-1].train.columns["candidate_length"]), batch,
                                             self.runner.device, self._autocast())}
        mentions = self._read(src, self._limit())
        q_emb = embed_texts(model, self.target.name, self.runner.tokenizer, [m["query"] for m in mentions], length, batch,
                            self.runner.device, self._autocast())
        _, index = top_k(q_emb, self._pool["emb"], 20, self.cfg.retrieval.block_size, self.runner.device, cosine=False)
        predictions = {m["id"]: [self._pool["ids"][j] for j in row] for m, row in zip(mentions, index.tolist())}
        value = mewslix_map_at_20(predictions, {m["id"]: [m["gold"]] for m in mentions})
        record = {"language": lang, "n_examples": len(mentions), "metrics": {"map@20": value}, "predictions": predictions}
        return self._keep(record, lambda: example_rows.ranking_rows(
            [(m["id"], m["query"]) for m in mentions], [predictions[m["id"]] for m in mentions],
            [{m["gold"]} for m in mentions]))
