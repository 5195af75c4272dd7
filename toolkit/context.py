"""The object every lifecycle hook receives: what is running, where, and with what."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunContext:
    """One run of a command (train, evaluate, explain, pretrain, lesson).

    Attributes:
        command: the command that started the run, e.g. ``"train"``.
        config: the run's resolved configuration (what ``config.json`` records).
        out_dir: the run folder, or ``None`` when nothing is written.
        device: the torch device the run uses (``"cpu"``, ``"cuda"``, ...).
        run_id: a unique id; defaults to a fresh random hex string.
        model: the model being trained or explained, once it is loaded.
        tokenizer: its tokenizer, once it is loaded.
        optimizer: the optimizer, during training.
        state: scratch space for plugins; key it by your plugin's name.
        stop_requested: set when the user presses Ctrl-C during training; a trainer stops
            after its current step (its last end-of-epoch checkpoint is what
            ``ptm train --resume`` continues from).
        checkpoint_epoch: the last epoch the trainer checkpointed, if any (recorded in an
            interrupted run's metrics.json).
        events: the run's :class:`toolkit.lifecycle.RunEvents`, set by the core: a trainer
            reports its epochs, steps and evaluations through it (``with run.events.epoch(n)``)
            and never fires a hook itself.
    """

    command: str
    config: dict[str, Any] = field(default_factory=dict)
    out_dir: Path | None = None
    device: str = "cpu"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    model: Any = None
    tokenizer: Any = None
    optimizer: Any = None
    state: dict[str, Any] = field(default_factory=dict)
    stop_requested: bool = False
    checkpoint_epoch: int | None = None
    events: Any = None
