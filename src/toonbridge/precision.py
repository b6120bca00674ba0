"""Whether bfloat16 is worth asking for on a device.

bf16 autocast is fast where the hardware does bf16 arithmetic (CUDA; CPUs with AVX-512 BF16 or AMX: 1.4-1.8x over
fp32 for our generators). Elsewhere oneDNN emulates it: on a 2-core AMD EPYC with AVX2 only (2026-12-07), one
forward and backward pass of the `bitmoji` generator took 18.2 s in bf16 against 0.50 s in fp32, 36x slower.
"""

from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=None)
def _cpu_has_native_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch without this probe: trust the configuration
        return True


def bf16_is_native(device: torch.device | str) -> bool:
    """True unless ``device`` is a CPU whose bf16 arithmetic oneDNN would emulate."""
    return torch.device(device).type != "cpu" or _cpu_has_native_bf16()


def cpu_description() -> str:
    """The CPU's best vector instruction set as torch sees it (e.g. ``AVX2``, ``AVX512``), for messages and records."""
    return torch.backends.cpu.get_cpu_capability()
