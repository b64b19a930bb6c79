"""Device, precision and seeds: where and in which dtype a run computes.

On a GPU: bf16 autocast (``train.precision`` ``auto`` or ``bf16``), TF32 matmuls and cuDNN
autotuning; on CPU plain float32. Seeds cover Python, NumPy and torch.
"""

from __future__ import annotations

import random
from contextlib import nullcontext

import numpy as np
import torch


def pick_device(preference: str = "auto") -> torch.device:
    """``cuda`` when asked for or available (auto), else CPU."""
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def configure_device(device: torch.device) -> None:
    """TF32 matmuls and cuDNN autotuning on GPUs (no effect on CPU)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def autocast(device: torch.device, precision: str):
    """bf16 autocast on a GPU (``auto`` or ``bf16``); float32 elsewhere."""
    if device.type == "cuda" and precision in ("auto", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def dtype_name(device: torch.device, precision: str) -> str:
    """The compute dtype ``autocast`` gives: ``bfloat16`` (autocast) on a GPU, else ``float32``."""
    return "bfloat16 (autocast)" if device.type == "cuda" and precision in ("auto", "bf16") else "float32"


def hardware(device: torch.device) -> str:
    """A short description of the device, recorded with the run."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} x{torch.cuda.device_count()}"
    return f"cpu ({torch.get_num_threads()} threads)"


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and torch (CPU runs are then reproducible)."""
    random.seed(seed)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
