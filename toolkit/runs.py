"""The run folder: config, metrics, model and plots, written so a half-done run never looks done.

``config.json`` is written first; the model goes to ``model.partial/`` and is renamed to
``model/`` when complete, and the SHA-256 of every weight file goes to ``checksums.json``
(checked whenever the run is opened again); ``metrics.json`` is written last, atomically, with
``"status": "finished"``. A failed or interrupted run gets ``metrics.json`` with its status
instead. An existing non-empty folder is never touched unless the user says ``--overwrite``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError

FINISHED = "finished"
# The sub-folder where a trainer keeps its end-of-epoch checkpoint (removed once the run finishes).
CHECKPOINT = "checkpoint"
CHECKSUMS = "checksums.json"
# Weight files ptm writes and reads (safetensors), and pickled ones it refuses to read.
WEIGHT_SUFFIXES = (".safetensors",)
PICKLED_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


def child(root: str | os.PathLike[str], name: str) -> Path:
    """``root / name`` for a name the toolkit or a plugin chose (a lesson id, a sub-run): one
    plain folder name, so nothing is ever written outside ``root``."""
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name or ":" in name:
        raise ConfigError(f"run name {name!r} is not a plain folder name; use letters, digits, '-' and '_'")
    return Path(root) / name


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place, so a
    reader never sees half a file. The file gets the mode any new file gets here (0666 less
    the umask), like the PNGs beside it: tempfile.mkstemp's private 0600 would make a run
    folder unreadable to the rest of a course's group."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON atomically (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


class RunFolder:
    """One run's folder on disk."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, overwrite: bool = False) -> RunFolder:
        """Make a new run folder; refuse one that exists with content, unless ``overwrite``."""
        folder = cls(path)
        if folder.path.exists() and not folder.path.is_dir():
            raise ConfigError(f"--out {folder.path} is a file; choose a folder name")
        if folder.path.is_dir() and any(folder.path.iterdir()):
            if not overwrite:
                raise ConfigError(
                    f"run folder {folder.path} already exists and is not empty; choose another "
                    "--out or pass --overwrite to replace it"
                )
            folder._check_replaceable()
            shutil.rmtree(folder.path)
        folder.path.mkdir(parents=True, exist_ok=True)
        return folder

    def _check_replaceable(self) -> None:
        """--overwrite deletes a folder: only ever one that ptm wrote, never the folder you are
        in (or one holding it)."""
        here = Path.cwd().resolve()
        target = self.path.resolve()
        if target == here or target in here.parents:
            raise ConfigError(f"--out {self.path} holds the current folder; --overwrite will not delete it")
        config = self.read_json("config.json", missing={}) if (self.path / "config.json").is_file() else {}
        if not isinstance(config, dict) or "command" not in config:
            raise ConfigError(
                f"{self.path} is not a ptm run folder (no config.json from ptm); --overwrite only "
                "replaces run folders, so choose another --out"
            )

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunFolder:
        """Open a finished run for evaluation or prediction; say what is wrong otherwise."""
        folder = cls(path)
        if not folder.path.is_dir():
            raise ConfigError(f"run folder {folder.path} does not exist; give the --out of a ptm train run")
        status = folder.status()
        if status != FINISHED:
            raise ConfigError(
                f"run folder {folder.path} is not a finished run (status: {status}); "
                "train again or resume it"
            )
        if not (folder.model_dir / "config.json").is_file():
            models = folder.models()
            if len(models) == 1:
                # A lesson folder with one trained model: the user meant that model.
                return cls.open(models[0])
            if models:
                listed = ", ".join(str(m) for m in models)
                raise ConfigError(
                    f"{folder.path} holds {len(models)} trained runs ({listed}); give one of them"
                )
            raise ConfigError(f"run folder {folder.path} has no model/; train again")
        folder.verify_weights()
        return folder

    def models(self) -> list[Path]:
        """The finished runs with a trained model directly inside this folder (a lesson's
        folder keeps its runs there), in name order."""
        if not self.path.is_dir():
            return []
        found = []
        for sub in sorted(p for p in self.path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            run = RunFolder(sub)
            try:
                if (run.model_dir / "config.json").is_file() and run.status() == FINISHED:
                    found.append(sub)
            except ConfigError:
                continue  # a damaged sub-run is not one to offer
        return found

    def verify_weights(self) -> None:
        """The model's weights are safetensors and match the checksums written at training."""
        pickled = sorted(p.name for p in self.model_dir.iterdir() if p.suffix in PICKLED_SUFFIXES)
        if pickled:
            raise ConfigError(
                f"{self.model_dir} holds pickled weights ({pickled[0]}); ptm reads safetensors only "
                "(re-save with save_pretrained(safe_serialization=True))"
            )
        weights = sorted(p for p in self.model_dir.iterdir() if p.suffix in WEIGHT_SUFFIXES)
        if not weights:
            raise ConfigError(f"run folder {self.path} lacks its model weights (model/*.safetensors); train again")
        recorded = self.read_json(CHECKSUMS, missing={})
        if not isinstance(recorded, dict):
            raise ConfigError(f"{self.path / CHECKSUMS} is corrupt; train the run again")
        for path in weights:
            expected = recorded.get(f"model/{path.name}")
            if expected is not None and sha256_of(path) != expected:
                raise ConfigError(
                    f"{path} does not match the SHA-256 recorded when it was trained (altered or "
                    "corrupt); train the run again"
                )

    def status(self) -> str:
        metrics = self.read_json("metrics.json", missing={})
        if not isinstance(metrics, dict):
            return "corrupt"
        if not metrics:
            return "running or interrupted" if (self.path / "config.json").exists() else "empty"
        return str(metrics.get("status", "unknown"))

    def read_json(self, name: str, *, missing: Any = None) -> Any:
        path = self.path / name
        if not path.exists():
            if missing is not None:
                return missing
            raise ConfigError(f"{path} is missing; is {self.path} a ptm run folder?")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ConfigError(f"{path} is corrupt (not JSON); train the run again") from None

    def write_json(self, name: str, data: Any) -> Path:
        path = self.path / name
        write_json_atomic(path, data)
        return path

    def save_model(self, save: Callable[[Path], None]) -> Path:
        """Let ``save`` fill a scratch folder, then move it to ``model/`` in one rename."""
        partial = self.path / "model.partial"
        shutil.rmtree(partial, ignore_errors=True)
        save(partial)
        checksums = {
            f"model/{p.name}": sha256_of(p) for p in sorted(partial.iterdir()) if p.suffix in WEIGHT_SUFFIXES
        }
        shutil.rmtree(self.model_dir, ignore_errors=True)
        partial.rename(self.model_dir)
        self.write_json(CHECKSUMS, checksums)
        return self.model_dir

    def finish(self, metrics: dict[str, Any]) -> Path:
        return self.write_json("metrics.json", {"status": FINISHED, **metrics})
