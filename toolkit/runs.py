"""The run folder: config, metrics, model and plots, written so a half-done run never looks done.

``config.json`` is written first; the model goes to ``model.partial/`` and is renamed to
``model/`` when complete; ``metrics.json`` is written last, atomically, with
``"status": "finished"``. A failed or interrupted run gets ``metrics.json`` with its status
instead. An existing non-empty folder is never touched unless the user says ``--overwrite``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError

FINISHED = "finished"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file beside ``path``, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, default=str)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunFolder:
    """One run's folder on disk."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

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
            shutil.rmtree(folder.path)
        folder.path.mkdir(parents=True, exist_ok=True)
        return folder

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
            raise ConfigError(f"run folder {folder.path} has no model/; train again")
        return folder

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
        shutil.rmtree(self.model_dir, ignore_errors=True)
        partial.rename(self.model_dir)
        return self.model_dir

    def finish(self, metrics: dict[str, Any]) -> Path:
        return self.write_json("metrics.json", {"status": FINISHED, **metrics})
