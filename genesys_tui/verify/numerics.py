"""Where a run's numbers were computed: the torch build and the kernels it dispatches to.

The same code, design and training seed give the same scores only on the same numerics. On
CPU torch picks its vector kernels by the processor (AVX2, AVX512, ...), and they round
differently: a cpu-s8 run of RWKV-7 with training seed 4 scores 0.7301316 under AVX512 and
0.7301273 under AVX2 (``ATEN_CPU_CAPABILITY=avx2``), and at cpu-s, eight times longer, the
difference grows to that of another training seed. So every rung result records this string,
and comparisons say when their runs were computed on different numerics.
"""

from __future__ import annotations

import torch


def numerics(device: str = "cpu") -> str:
    """``torch 2.13.0+cpu, cpu AVX512`` or ``torch 2.13.0, cuda NVIDIA H100 80GB HBM3``: the
    torch build and, for ``device``, the CPU's kernel level or the GPU's name."""
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"torch {torch.__version__}, cuda {torch.cuda.get_device_name(torch.device(device))}"
    return f"torch {torch.__version__}, cpu {torch.backends.cpu.get_cpu_capability()}"
