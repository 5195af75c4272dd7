"""The end-of-epoch checkpoint that lets ``ptm train --resume`` finish an interrupted run.

Everything the next epoch depends on is kept, so a resumed run ends where an uninterrupted one
with the same seed would: the trained weights (frozen ones are rebuilt exactly as the run
built them, from the same model and seed, so they are not copied every epoch), the optimizer's
moments, the learning-rate schedule,
the random number generators (dropout, batch order, Poisson sampling and DP noise) and the
privacy accountant's history. Tensors go to safetensors, everything else to JSON: nothing is
pickled. The folder is written beside the old one and swapped in with a rename, so a crash
while saving leaves the previous epoch's checkpoint whole.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError
from toolkit.runs import write_atomic

STATE = "state.json"


def save(
    folder: Path,
    *,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    generator: Any,
    state: dict[str, Any],
) -> None:
    """Write the checkpoint of a completed epoch to ``folder`` (replacing the previous one)."""
    import torch
    from safetensors.torch import save_file

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    trained = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}
    write_atomic(partial / "model.safetensors", lambda tmp: save_file(trained, str(tmp)))
    inner = getattr(optimizer, "original_optimizer", optimizer)  # Opacus wraps the optimizer
    optim = inner.state_dict()
    tensors = {
        f"{index}.{name}": value.detach().cpu().contiguous()
        for index, slots in optim["state"].items()
        for name, value in slots.items()
        if torch.is_tensor(value)
    }
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.loader"] = generator.get_state()
    write_atomic(partial / "optimizer_and_rng.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    record = {
        **state,
        "optimizer_param_groups": optim["param_groups"],
        "optimizer_scalars": {
            str(index): {k: v for k, v in slots.items() if not torch.is_tensor(v)}
            for index, slots in optim["state"].items()
        },
        "scheduler": {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"},
    }
    write_atomic(partial / STATE, json.dumps(record, indent=1, default=float))
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    partial.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def read_state(folder: Path) -> dict[str, Any]:
    """The JSON part of a checkpoint, or a one-line error saying why there is none."""
    path = folder / STATE
    if not path.is_file():
        raise ConfigError(
            f"{folder.parent} has no checkpoint: it stopped before its first epoch ended; "
            "train it again"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ConfigError(f"{path} is corrupt; train the run again") from None


def load(folder: Path, *, model: Any, optimizer: Any, scheduler: Any, generator: Any) -> dict[str, Any]:
    """Put a checkpoint back into freshly built training objects; return its JSON state."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    state = read_state(folder)
    try:
        trained = load_file(str(folder / "model.safetensors"))
        tensors = load_file(str(folder / "optimizer_and_rng.safetensors"))
    except (SafetensorError, OSError) as error:
        raise ConfigError(f"the checkpoint in {folder} cannot be read ({error}); train the run again") from None
    expected = {n for n, p in model.named_parameters() if p.requires_grad}
    if set(trained) != expected:
        raise ConfigError(f"the checkpoint in {folder} does not fit this model's trained parameters; train the run again")
    model.load_state_dict(trained, strict=False)
    inner = getattr(optimizer, "original_optimizer", optimizer)
    slots: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("rng."):
            continue
        index, name = key.split(".", 1)
        slots.setdefault(int(index), {})[name] = value
    for index, scalars in state["optimizer_scalars"].items():
        slots.setdefault(int(index), {}).update(scalars)
    inner.load_state_dict({"state": slots, "param_groups": state["optimizer_param_groups"]})
    scheduler.load_state_dict({**scheduler.state_dict(), **state["scheduler"]})
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.loader"])
    return state
