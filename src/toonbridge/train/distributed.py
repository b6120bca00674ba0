"""Training on several processes with torch.distributed, started by ``torchrun``; the same loop and recipes.

    torchrun --nproc-per-node 2 -m toonbridge train CONFIG            # 2 processes on this machine (gloo on CPU)
    torchrun --nnodes 2 --node-rank R --master-addr HOST --nproc-per-node 8 -m toonbridge train CONFIG --device cuda

``batch_size`` is per process: a step reads one global batch of ``world size × batch_size`` faces, cut from the same
deterministic order a single process with that batch would read, and rank r takes its r-th slice. Only rank 0
writes checkpoints, logs, samples and the progress bar.

What keeps the ranks' models identical, method by method, without each method knowing it is distributed:

- **Weights and optimiser moments**: every rank starts from the same weights (rank 0's are broadcast after the start
  or resume), and each optimiser's step is preceded by a hook that averages the gradients of its parameters over
  the ranks (Horovod's DistributedOptimizer design). That fits every method's step, whatever number of forward
  passes it makes and whichever networks it freezes in between, which DistributedDataParallel's contract (one
  forward, one backward per step) does not; with gradients averaged, the update is the one of the global batch.
- **Spectral-norm vectors and EMA generators** are functions of the weights, updated the same way on every rank.
- **Image pools** (CycleGAN) gather the fakes of the global batch on every rank and draw from a generator all ranks
  share, so every rank holds the same pool; each rank's loss reads its own slice (:func:`local_part`).
- **Batch normalisation** (the supervised models): its statistics are taken over the global batch, the sums
  all-reduced inside the graph (:class:`GlobalBatchNorm`; PyTorch's SyncBatchNorm runs on GPUs only), so the
  running statistics and the gradients are those of one process with the whole batch.
- **Random draws inside a step** (noise, style mixing, augmentation on the device): the torch generator is seeded
  ``seed + rank``, so ranks draw different noise; every rank's generator state goes into the checkpoint.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


_world = World()
_collective_device = torch.device("cpu")  # where small tensors for collectives live (NCCL needs CUDA ones)


def world() -> World:
    return _world


def init_from_environment(device_type: str) -> World:
    """Join the process group torchrun describes in the environment (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_*);
    a single process (no torchrun) stays alone. NCCL on CUDA, gloo on the CPU."""
    global _world, _collective_device
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        _world = World()
        return _world
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    _collective_device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    _world = World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return _world


def shutdown(finished: bool) -> None:
    """Leave the process group. After a run that ``finished`` every process leaves together: one that tore its
    group down while a peer was still in its last collective died with SIGABRT ("terminate called without an
    active exception"). After an error no process waits (its peers may never come)."""
    global _world
    if dist.is_initialized():
        # Collect the run's cyclic garbage while the group is alive, not in the interpreter's teardown after it
        # (which object in it trips gloo is not pinned down): without this, a process aborted at exit with no Python
        # frame in 5 of 71 two-process runs of the test's regressor recipe; with it, 0 of 120 (2026-12-07).
        gc.collect()
        if finished:
            dist.barrier()
        dist.destroy_process_group()
    _world = World()


def average_gradients_before_steps(optimizers: dict[str, torch.optim.Optimizer]) -> None:
    """Each optimiser's ``step`` first averages its parameters' gradients over the ranks (one flat all-reduce)."""
    if not _world.distributed:
        return
    for optimizer in optimizers.values():
        optimizer.register_step_pre_hook(lambda optimizer, *_: _average_gradients(optimizer))


def _average_gradients(optimizer: torch.optim.Optimizer) -> None:
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1).float() for g in grads])
    dist.all_reduce(flat)
    flat /= _world.size
    offset = 0
    for grad in grads:
        grad.copy_(flat[offset:offset + grad.numel()].view_as(grad))
        offset += grad.numel()


def broadcast_networks(networks: dict[str, nn.Module]) -> None:
    """Rank 0's weights and buffers to every rank."""
    if not _world.distributed:
        return
    for network in networks.values():
        for tensor in [*network.parameters(), *network.buffers()]:
            dist.broadcast(tensor.data, 0)


def all_gather_batch(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's part of the global batch, concatenated in rank order (the batch itself when alone)."""
    if not _world.distributed:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(_world.size)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


def local_part(tensor: torch.Tensor) -> torch.Tensor:
    """This rank's slice of a global batch (from :func:`all_gather_batch`)."""
    if not _world.distributed:
        return tensor
    size = tensor.shape[0] // _world.size
    return tensor[_world.rank * size:(_world.rank + 1) * size]


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` is true on any rank: every rank then takes the same decision (stop, divergence)."""
    if not _world.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=_collective_device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def gather_objects(value) -> list:
    """``value`` of every rank, in rank order (on every rank)."""
    if not _world.distributed:
        return [value]
    found = [None] * _world.size
    dist.all_gather_object(found, value)
    return found


class GlobalBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover every rank's part of the batch (CPU and GPU alike)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and _world.distributed):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce  # differentiable: gradients reach every rank's input

        count = torch.tensor([x.numel() / x.shape[1]], dtype=torch.float32, device=x.device)
        values = x.float()
        sums = all_reduce(torch.cat([values.sum((0, 2, 3)), values.square().sum((0, 2, 3)), count]))
        channels = x.shape[1]
        total = sums[-1]
        mean = sums[:channels] / total
        variance = (sums[channels:2 * channels] / total - mean.square()).clamp_min(0)
        with torch.no_grad():
            self.num_batches_tracked += 1
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_(variance.detach() * total / (total - 1).clamp_min(1), self.momentum)
        shape = (1, channels, 1, 1)
        normalised = (values - mean.view(shape)) * torch.rsqrt(variance.view(shape) + self.eps)
        return (normalised * self.weight.view(shape) + self.bias.view(shape)).to(x.dtype)


def synchronise_batch_norm(networks: dict[str, nn.Module]) -> None:
    """Turn every BatchNorm2d of ``networks`` into :class:`GlobalBatchNorm` in place (same parameters and buffers,
    so optimisers and checkpoints are unchanged)."""
    if not _world.distributed:
        return
    for network in networks.values():
        for module in network.modules():
            if type(module) is nn.BatchNorm2d and module.affine and module.track_running_stats and module.momentum is not None:
                module.__class__ = GlobalBatchNorm
