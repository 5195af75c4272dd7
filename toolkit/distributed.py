"""Data-parallel runs across processes, as launched by ``torchrun``: who this process is, and
whether it is the one that writes.

``torchrun --nproc-per-node N -m toolkit.cli train ...`` starts N copies of ``ptm train`` with
``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` set. Every process trains on its share of each
batch (the trainer averages gradients across them), and only rank 0 writes the run folder.
Without those variables a run is one process and nothing here does anything.
"""

from __future__ import annotations

import os


def world_size() -> int:
    """How many processes train together (1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's place among them (0 without torchrun)."""
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """Its place on this machine: the GPU it takes."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """Whether this process writes the run folder and prints (rank 0)."""
    return rank() == 0


def init(device: str) -> None:
    """Join the process group (gloo on CPUs, NCCL on CUDA GPUs), once."""
    import torch.distributed as dist

    if world_size() > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if str(device).startswith("cuda") else "gloo")
