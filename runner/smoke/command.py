"""``runner smoke``: one pair end to end on this machine's device, on fixtures built here.

What a user runs first on a new GPU node: it builds a tiny XLM-R-style model (2 layers, hidden 64,
a Unigram tokenizer trained locally) and local copies of the MNLI and XNLI Hub repos in their exact
schemas with a synthetic signal the tiny model learns, all in a temporary folder, then runs
``mnli:xnli`` through ``runner.pipeline.run`` exactly as ``runner run`` does (phase 1 on MNLI,
phase 2 on XNLI's English training data, zero-shot evaluation on the 15 XNLI languages, one write
to a temporary store). Nothing is downloaded. It prints the device, the compute dtype, the
training throughput in real tokens per second of each phase, the English dev scores and the mean
test accuracy, and fails (exit 1) when a phase's English dev accuracy is not clearly above chance
(the tiny model reaches it in a few epochs on CPU and GPU alike; a broken device does not).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from runner.config import build_config
from runner.pipeline import RunReport, layout, run
from runner.smoke.fixtures import build_mirror, build_model
from runner.training.device import dtype_name, hardware, pick_device

PAIR = "mnli:xnli"
#: Settings that make the tiny model learn the fixture signal in seconds (as the end-to-end tests).
SETTINGS = {"train": {"learning_rate": 1e-3, "epochs": 2, "batch_size": 16, "grad_accum": 1, "progress": False}}
#: English dev accuracy each phase must beat: chance is 33.3 (three NLI labels).
FLOOR = 50.0


@dataclass(frozen=True)
class SmokeReport:
    """What ``smoke`` measured; ``ok`` when every phase learned (dev accuracy above ``FLOOR``)."""

    device: str
    dtype: str
    phases: list[dict]
    report: RunReport
    seconds: float
    folder: Path

    @property
    def ok(self) -> bool:
        return all(p["dev"] > FLOOR for p in self.phases)

    def lines(self) -> list[str]:
        run = self.report.run
        mean = sum(r.value for r in self.report.results) / len(self.report.results)
        out = [f"smoke: {PAIR} on {self.device}, {self.dtype}; tiny XLM-R and fixture data in {self.folder}"]
        for p in self.phases:
            out.append(f"  {p['phase']:<22} {p['epochs']} epochs, {p['tokens']:,} tokens in {p['seconds']:.1f} s = "
                       f"{p['tokens_per_s']:,.0f} tokens/s; English dev accuracy {p['dev']:.1f} (chance 33.3)")
        out.append(f"  {'phase 3 evaluation':<22} {len(self.report.results)} languages, mean test accuracy {mean:.1f}")
        out.append(f"  store  run {run.run_id}: {len(self.report.results)} result rows + {len(run.dev_scores)} dev scores "
                   f"written to {self.folder / 'store'}")
        verdict = "ok" if self.ok else f"FAILED: a phase's English dev accuracy is not above {FLOOR:.0f}"
        out.append(f"smoke: {verdict} ({self.seconds:.1f} s)")
        return out


def smoke(folder: Path | None = None, device: str = "auto") -> SmokeReport:
    """Builds the fixtures in ``folder`` (default: a new temporary folder) and runs ``mnli:xnli``.

    Args:
        folder: where the model, data, work files and store go (kept afterwards).
        device: ``auto``, ``cpu`` or ``cuda``.
    """
    started = time.perf_counter()
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="xstilts-smoke-"))
    model = build_model(folder / "model" / "tiny-xlmr")
    data = build_mirror(folder / "data", tasks=PAIR.split(":"))
    values = {"pair": PAIR, "model": str(model), "data_dir": str(data), "work_dir": str(folder / "work"),
              "store": str(folder / "store"), "device": device, **SETTINGS}
    lay = layout(build_config(values))
    report = run(lay, folder / "store")
    phases = []
    stages = ([("phase 1 " + lay.pair.intermediate, lay.inter_dir)] if lay.inter_dir else []) + \
        [(f"phase 2 {stage.name}", path) for stage, path in lay.stage_dirs]
    for name, path in stages:
        done = json.loads((path / "done.json").read_text())
        task = next(iter(done["dev"]))
        seconds = max(done["train_seconds"], 1e-9)
        phases.append({"phase": name, "epochs": len(done["history"]), "tokens": done["train_tokens"], "seconds": seconds,
                       "tokens_per_s": done["train_tokens"] / seconds, "dev": done["dev"][task]["accuracy"]})
    dev = pick_device(device)
    return SmokeReport(hardware(dev), dtype_name(dev, lay.cfg.train.precision), phases, report,
                       time.perf_counter() - started, folder)
