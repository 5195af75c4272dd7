"""The run folder: config, metrics, model and plots, written so a half-done run never looks done.

``config.json`` is written first; the model goes to ``model.partial/`` and is renamed to
``model/`` when complete, and the SHA-256 of every weight file goes to ``checksums.json``
(checked whenever the run is opened again); ``metrics.json`` is written last, atomically, with
``"status": "finished"``. A failed or interrupted run gets ``metrics.json`` with its status
instead. An existing non-empty folder is never touched unless the user says ``--overwrite``.

A folder is *claimed* before anything is written to it: ``.ptm-claim`` is created with
``O_CREAT | O_EXCL`` (one atomic step, so of two processes given the same ``--out`` exactly
one wins; the other is told who holds it) and removed when the run finishes or fails. A claim
whose process has died (killed, power cut) is stale and is broken by the next claimant.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError

FINISHED = "finished"
# The sub-folder where a trainer keeps its end-of-epoch checkpoint (removed once the run finishes).
CHECKPOINT = "checkpoint"
CHECKSUMS = "checksums.json"
CLAIM = ".ptm-claim"
# The claims this process holds, so a claim naming our own pid that we do not hold is stale
# (a notebook kernel whose earlier run raised before it could release its folder).
_held: set[Path] = set()
# Weight files ptm writes and reads (safetensors), and pickled ones it refuses to read.
WEIGHT_SUFFIXES = (".safetensors",)
PICKLED_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".ckpt")


def child(root: str | os.PathLike[str], name: str) -> Path:
    """``root / name`` for a name the toolkit or a plugin chose (a lesson id, a sub-run): one
    plain folder name, so nothing is ever written outside ``root``."""
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name or ":" in name:
        raise ConfigError(f"run name {name!r} is not a plain folder name; use letters, digits, '-' and '_'")
    return Path(root) / name


def recorded_ref(ref: Any) -> Any:
    """What a run records for a data or model reference: an existing local path made absolute
    (so a later command run from another folder finds the same file), anything else (an id
    such as ``reviews`` or ``minilm``, a hub id, None) as given."""
    if not isinstance(ref, (str, os.PathLike)) or not str(ref):
        return ref
    path = Path(ref).expanduser()
    return str(path.resolve()) if path.exists() else str(ref)


def json_kind(value: Any) -> str:
    """What a parsed JSON value is, in JSON's words: object, list, string, number, ..."""
    kinds = {dict: "object", list: "list", str: "string", bool: "true/false", type(None): "null"}
    return kinds.get(type(value), "number")


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_digests: dict[tuple[str, int, int], str] = {}


def _sha256_cached(path: Path) -> str:
    """:func:`sha256_of`, remembered per file version (path, size, mtime) within a process: a
    command opens a run, then loads its model, and hashes the weights once."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _digests:
        _digests[key] = sha256_of(path)
    return _digests[key]


def write_atomic(path: Path, content: str | bytes | Callable[[Path], object]) -> None:
    """Write a file whole or not at all: to a temporary file beside ``path``, then renamed into
    place, so a reader never sees half a file and a failure leaves the old one. ``content`` is
    text, bytes, or a function that writes the temporary file it is given (a plot, a copy). The
    file gets the mode any new file gets here (0666 less the umask), like the PNGs beside it:
    tempfile.mkstemp's private 0600 would make a run folder unreadable to the rest of a
    course's group. The one atomic write of the toolkit: every other file write goes through it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise ConfigError(
            f"cannot write {path} ({error.strerror or type(error).__name__}); choose a place you can write"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(content, str):
                handle.write(content.encode("utf-8"))
            elif isinstance(content, bytes):
                handle.write(content)
        if callable(content):
            content(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write text atomically (see :func:`write_atomic`)."""
    write_atomic(path, text)


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
        """Make and claim a new run folder; refuse one that exists with content (unless
        ``overwrite``), one another process holds, and any place that cannot be written, each
        in one line naming the path."""
        folder = cls(path)
        folder._check_free(overwrite)
        try:
            folder.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise _location_error(folder.path, error) from None
        folder.claim()
        if any(p.name != CLAIM for p in folder.path.iterdir()):
            # Another run was written here (and finished) between our check and our claim.
            folder.release()
            raise ConfigError(
                f"run folder {folder.path} was filled by another ptm process while this one was "
                "starting; choose another --out"
            )
        return folder

    def _check_free(self, overwrite: bool) -> None:
        """The checks before the claim: a place for a folder, empty, or a run ``overwrite``
        may replace (which is then moved aside and deleted)."""
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"--out {self.path} is a file; choose a folder name")
        try:
            occupied = self.path.is_dir() and any(self.path.iterdir())
        except OSError as error:
            raise _location_error(self.path, error) from None
        if not occupied:
            return
        holder = self.holder()
        if holder is not None:
            raise self._busy(holder)
        if not overwrite:
            raise ConfigError(
                f"run folder {self.path} already exists and is not empty; choose another "
                "--out or pass --overwrite to replace it"
            )
        if self.path.is_symlink():
            raise ConfigError(
                f"--out {self.path} is a symbolic link (to {os.readlink(self.path)}); --overwrite "
                "replaces only a real folder, so give the folder it points to, or another --out"
            )
        self._check_replaceable()
        # Move the old run aside in one rename, then delete it: a reader never sees half of it.
        # (Two processes overwriting the same folder at the same instant can still race between
        # this check and the rename; the claim below keeps their writes apart.)
        aside = self.path.with_name(f".{self.path.name}.replaced-{secrets.token_hex(4)}")
        try:
            self.path.rename(aside)
        except FileNotFoundError:
            return  # another process moved it first
        except OSError as error:
            raise _location_error(self.path, error) from None
        shutil.rmtree(aside, ignore_errors=True)

    def claim(self) -> None:
        """Claim this folder for the calling process (``O_EXCL``), breaking a stale claim once;
        raise a one-line :class:`ConfigError` naming the holder when another process has it."""
        path = self.path / CLAIM
        record = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                             "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                             "command": " ".join(sys.argv[:1] + sys.argv[1:6])[:200]})
        for _attempt in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                holder = self.holder()
                if holder is not None:
                    raise self._busy(holder) from None
                # Stale: rename it away (only one process can), then try once more.
                try:
                    path.rename(path.with_name(f"{CLAIM}.stale-{secrets.token_hex(4)}"))
                except FileNotFoundError:
                    pass
                for stale in self.path.glob(f"{CLAIM}.stale-*"):
                    stale.unlink(missing_ok=True)
                continue
            except OSError as error:
                raise _location_error(self.path, error) from None
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(record)
            _held.add(self.path.resolve())
            return
        raise ConfigError(f"run folder {self.path} is being claimed by another process; choose another --out")

    def _busy(self, holder: str) -> ConfigError:
        return ConfigError(f"run folder {self.path} is being written by {holder}; wait for it or choose another --out")

    def holder(self) -> str | None:
        """Who holds this folder's claim ("ptm process 123 on host, started ..."), or None
        when nobody alive does (no claim, ours, or a dead process's)."""
        try:
            record = json.loads((self.path / CLAIM).read_text(encoding="utf-8"))
            pid, host = int(record["pid"]), str(record["host"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            # Half-written by a claimant this instant, or damaged: treat as held, the safe side.
            return "another ptm process (its claim is unreadable)"
        if host == socket.gethostname():
            if pid == os.getpid():
                return None if self.path.resolve() not in _held else "this process"
            if not _alive(pid):
                return None
        started = record.get("started", "?")
        return f"ptm process {pid} on {host} (started {started}: {record.get('command', 'ptm')})"

    @contextmanager
    def claimed(self) -> Iterator[RunFolder]:
        """Hold the claim for the ``with`` body and release it however the body ends; a body
        that raises leaves ``metrics.json`` saying so (unless it wrote its own)."""
        try:
            yield self
        except BaseException as error:
            if not (self.path / "metrics.json").exists():
                self.fail(error)
            raise
        finally:
            self.release()

    def fail(self, error: BaseException, **record: Any) -> None:
        """Write metrics.json saying the run failed (or was interrupted) and why, with
        ``record`` beside it, and release the claim."""
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
        self.write_json("metrics.json", {"status": status, "error": f"{type(error).__name__}: {error}", **record})
        self.release()

    def release(self) -> None:
        """Give up this process's claim (a finished or failed run)."""
        if self.path.resolve() in _held:
            (self.path / CLAIM).unlink(missing_ok=True)
            _held.discard(self.path.resolve())

    def _check_replaceable(self) -> None:
        """--overwrite deletes a folder: only ever one that ptm wrote, never the folder you are
        in (or one holding it)."""
        here = Path.cwd().resolve()
        target = self.path.resolve()
        if target == here or target in here.parents:
            raise ConfigError(f"--out {self.path} holds the current folder; --overwrite will not delete it")
        try:
            config = self.read_json("config.json", missing={})
        except ConfigError:
            config = {}
        if "command" not in config:
            raise ConfigError(
                f"{self.path} is not a ptm run folder (no config.json from ptm); --overwrite only "
                "replaces run folders, so choose another --out"
            )

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunFolder:
        """Open a finished run for evaluation or prediction; say what is wrong otherwise."""
        folder = cls(path)
        if folder.path.is_file():
            raise ConfigError(f"{folder.path} is a file, not a run folder; give the --out of a ptm train run")
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
        """The model folder is data only (see :func:`check_model_folder`) and its weights match
        ``checksums.json``, which must be there: a missing record is an error, not a pass."""
        if not (self.path / CHECKSUMS).is_file():
            raise ConfigError(
                f"run folder {self.path} has no {CHECKSUMS} (the SHA-256 of its weights), so its "
                "weights cannot be trusted; train the run again"
            )
        recorded = self.read_json(CHECKSUMS)
        check_model_folder(self.model_dir, what=f"run folder {self.path}")
        weights = sorted(p for p in self.model_dir.iterdir() if p.suffix in WEIGHT_SUFFIXES)
        for path in weights:
            expected = recorded.get(f"model/{path.name}")
            if expected is None or _sha256_cached(path) != expected:
                why = "is not in" if expected is None else "does not match"
                raise ConfigError(
                    f"{path} {why} the SHA-256 recorded when it was trained (altered or "
                    "corrupt); train the run again"
                )

    def status(self) -> str:
        metrics = self.read_json("metrics.json", missing={})
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
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ConfigError(f"{path} is corrupt (not JSON); train the run again") from None
        if not isinstance(data, dict):
            # Every record ptm writes is an object; anything else was damaged or made elsewhere.
            raise ConfigError(f"{path} holds a JSON {json_kind(data)}, not the object ptm writes; train the run again")
        return data

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
        """Write metrics.json with ``"status": "finished"`` and release the claim."""
        path = self.write_json("metrics.json", {"status": FINISHED, **metrics})
        self.release()
        return path


def check_model_folder(model_dir: Path, *, what: str | None = None) -> None:
    """Refuse a model folder that would make transformers run code or unpickle: an
    ``auto_map`` (custom code to import) or a config that is not a JSON object in any of its
    config files, a config without ``model_type``, pickled weights, or no safetensors weights."""
    what = what or f"model folder {model_dir}"
    for name in ("config.json", "tokenizer_config.json", "preprocessor_config.json", "generation_config.json"):
        path = model_dir / name
        if not path.is_file():
            continue
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ConfigError(f"{path} is not valid JSON; {what} is damaged, save or train it again") from None
        if not isinstance(config, dict):
            raise ConfigError(f"{path} is not a JSON object; {what} is damaged, save or train it again")
        if any(key.endswith("auto_map") for key in config):  # auto_map, or a tokenizer's *_auto_map
            raise ConfigError(
                f"{path} names custom code (auto_map), which ptm never runs; use a model folder "
                "with a built-in architecture (model_type bert)"
            )
        if name == "config.json" and not config.get("model_type"):
            raise ConfigError(f"{path} has no model_type, so the architecture is unknown; {what} is damaged, save or train it again")
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"{what} has no config.json in {model_dir}; give a saved model folder")
    pickled = sorted(p.name for p in model_dir.iterdir() if p.suffix in PICKLED_SUFFIXES)
    if pickled:
        raise ConfigError(
            f"{model_dir} holds pickled weights ({pickled[0]}); ptm reads safetensors only "
            "(re-save with save_pretrained(safe_serialization=True))"
        )
    if not any(p.suffix in WEIGHT_SUFFIXES for p in model_dir.iterdir()):
        raise ConfigError(f"{what} lacks its model weights ({model_dir.name}/*.safetensors); train or save it again")


def make_folder(path: Path, option: str = "--dest") -> None:
    """Create the folder ``path`` (and its parents) unless it is one already; refuse in one
    line naming the path when it is a file, lies under a file, or cannot be written."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path} is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise folder_error(path, error, option) from None


def folder_error(path: Path, error: OSError, option: str = "--dest") -> ConfigError:
    """An OSError about writing into the folder ``path``, as one line naming the path and the fix."""
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        where = "is a file" if blocker == path else f"lies under {blocker}, which is a file"
        return ConfigError(f"{option} {path} {where}; give a folder")
    reason = error.strerror or type(error).__name__
    return ConfigError(f"cannot write into {option} {path} ({reason}); give a folder you can write")


def _alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _location_error(path: Path, error: OSError) -> ConfigError:
    """An OSError about where a run goes, as one line naming the path and the fix."""
    reason = error.strerror or type(error).__name__
    where = error.filename or path
    if isinstance(error, (NotADirectoryError, FileExistsError)):
        return ConfigError(f"cannot create run folder {path}: {where} is not a folder; choose another --out")
    return ConfigError(f"cannot create run folder {path} ({where}: {reason}); choose a folder you can write")
