"""One training epoch: batches, augmentation, gradients accumulated over sub-batches of similar
multiplicity, optimiser steps. `saltjet.training.loop` calls `train_epoch` once per epoch."""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from tqdm import tqdm

from saltjet.data.batches import epoch_batches
from saltjet.data.pipeline import JetTensors
from saltjet.training import distributed
from saltjet.training.augment import rotate_reflect
from saltjet.training.objective import loss_fn, predictions


@dataclass
class EpochResult:
    loss: float
    accuracy: float
    jets: int
    seconds: float
    data_seconds: float



def train_epoch(net, optimizer, scaler, autocast, data: JetTensors, batch_size, seed, epoch, ctx, quiet,
                desc, length_groups: int = 1, augment: tuple[int, int] | None = None) -> EpochResult:
    """One epoch of optimiser steps over `data` (this process's share of each global batch).

    Each batch is drawn by `epoch_batches` (seeded by (seed, epoch)), optionally augmented
    (`saltjet.training.augment`), and its gradients are accumulated over `length_groups`
    sub-batches (`accumulate_gradients`) before one step. Returns the epoch's mean training loss and
    accuracy over all processes, the jets seen, and the seconds spent (in total and fetching data).
    """
    net.train()
    batches = epoch_batches(len(data), batch_size, seed, epoch, ctx.rank, ctx.world_size)
    n_local = sum(len(b) for b in batches)
    loss_sum = torch.zeros((), dtype=torch.float64, device=ctx.device)
    correct = torch.zeros((), dtype=torch.int64, device=ctx.device)
    data_time = 0.0
    bar = tqdm(total=n_local * ctx.world_size, desc=desc, unit="jet", unit_scale=True, leave=False,
               file=sys.stderr, disable=True if quiet else None, dynamic_ncols=True)
    t0 = time.perf_counter()
    seen = 0
    for step, index in enumerate(batches):
        t_data = time.perf_counter()
        x, mask, y = data.batch(index, ctx.device)
        if augment is not None:
            x = rotate_reflect(x, augment)
        data_time += time.perf_counter() - t_data
        optimizer.zero_grad(set_to_none=True)
        batch_loss, batch_correct = accumulate_gradients(net, scaler, autocast, x, mask, y, length_groups, ctx)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        loss_sum += batch_loss.double() * len(y)
        if not ctx.distributed and step % 50 == 49 and not bool(torch.isfinite(loss_sum)):
            break  # diverged: no use finishing the epoch; the caller reports it
        correct += batch_correct
        seen += len(y)
        bar.update(len(y) * ctx.world_size)
        if not bar.disable and (step % 20 == 0 or step == len(batches) - 1):
            bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct.item() / seen:.4f}", refresh=False)
    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    seconds = time.perf_counter() - t0
    bar.close()
    totals = distributed.all_reduce_sum(ctx, torch.stack([loss_sum.double().cpu(), correct.double().cpu(),
                                                          torch.tensor(float(seen), dtype=torch.float64)]))
    count = max(float(totals[2]), 1.0)
    return EpochResult(float(totals[0]) / count, float(totals[1]) / count, int(totals[2]), seconds, data_time)


def accumulate_gradients(net, scaler, autocast, x, mask, y, length_groups: int, ctx):
    """Gradients of the batch's mean loss, computed in `length_groups` sub-batches of similar multiplicity.

    The batch (x (B, n, F), mask (B, n), y (B,)) is ordered by multiplicity and cut into equal
    sub-batches; each one's mean loss, weighted by its share of B, is back-propagated, so the summed
    gradients are those of the whole batch (the step is unchanged, up to float rounding), while each
    sub-batch drops its all-padding slots (`JetTagger.forward`): a sub-batch of short jets costs
    O(its longest jet), not O(n). Under DDP, gradients are synchronised on the last sub-batch only.
    Returns (mean loss of the batch, detached scalar; number of correct predictions).
    """
    if length_groups <= 1 or len(y) < 2 * length_groups:
        groups = [None]
    else:
        groups = torch.tensor_split(torch.argsort(mask.sum(dim=1)), length_groups)
    loss_total = torch.zeros((), device=y.device)
    correct = torch.zeros((), dtype=torch.int64, device=y.device)
    for i, group in enumerate(groups):
        xs, ms, ys = (x, mask, y) if group is None else (x[group], mask[group], y[group])
        sync = nullcontext() if i == len(groups) - 1 or not ctx.distributed else net.no_sync()
        with sync:
            with autocast():
                logits = net(xs, ms)
            loss = loss_fn(logits, ys) * (len(ys) / len(y))
            (scaler.scale(loss) if scaler is not None else loss).backward()
        loss_total += loss.detach()
        correct += (predictions(logits.detach()) == ys).sum()
    return loss_total, correct
