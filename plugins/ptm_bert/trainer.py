"""Fine-tuning a BERT classifier: the plain training loop the lessons teach.

The loop is written out by hand on purpose (it is what the course explains); everything around
it comes from the libraries made for the job: transformers' AdamW schedule, dynamic padding and
length-grouped sampling, scikit-learn's metrics, tqdm's progress bar.

A privacy mechanism wraps the model, optimizer, loss and data loader before the loop starts
(see ``privacy`` in :meth:`FineTuner.fit`); the loop itself stays the same.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from toolkit import distributed
from toolkit.context import RunContext
from toolkit.data import Example
from toolkit.errors import ConfigError
from toolkit.lifecycle import events_of
from toolkit.runs import RunFolder
from toolkit.tokens import warn_truncated

from ptm_bert.models import LoadedModel, load_pretrained
from ptm_bert.optim import adamw


@dataclass
class TrainConfig:
    """Hyper-parameters of one fine-tuning run."""

    epochs: int = 1
    # Small batches: more steps from little data in one epoch. Measured (NOTES.md): on 2,000
    # SST-2 phrases batch 8 beat 16 and 32 by 1-2 points of dev accuracy; on the 480 `reviews`
    # training sentences lr 1e-4 beat 5e-5 (0.84 against 0.73). With MiniLM's mean pooling,
    # batch 8 / lr 1e-4 scores 0.816 on SST-2 dev (mean of 3 seeds).
    batch_size: int = 8
    lr: float = 1e-4
    max_length: int = 128
    seed: int = 42
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    group_by_length: bool = True
    eval_batch_size: int = 128
    progress: bool = True
    trainable: str = "all"
    micro_batch_size: int | None = None
    # "auto": bf16 autocast on a GPU that supports it, float32 elsewhere; "fp32"; "bf16": bf16
    # autocast on any device with native bf16 arithmetic (refused elsewhere, and under DP-SGD).
    precision: str = "auto"
    # An end-of-epoch checkpoint in the run folder, for `ptm train --resume` (removed when the
    # run finishes).
    checkpoint: bool = True
    # Score the held-out split after every epoch (the per-epoch curves) or only after the last
    # one (the same final scores, sooner: a lesson that reads only the end result).
    eval_every_epoch: bool = True
    # Run the frozen bottom of the model (embeddings, and the layers below the first trained one)
    # once per example and train the top on its cached output: the same function, computed
    # once instead of every epoch (ptm_bert.frozen). False runs the whole model every step.
    cache_frozen: bool = True

    def check(self, model_max_length: int) -> None:
        for name in ("epochs", "batch_size", "max_length", "eval_batch_size", "micro_batch_size"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ConfigError(f"--lr must be positive, got {self.lr}; try 1e-4")
        if self.max_length > model_max_length:
            raise ConfigError(
                f"--max-length {self.max_length} exceeds the model's limit of {model_max_length} tokens"
            )
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision '{self.precision}'; use {', '.join(PRECISIONS)}")


PRECISIONS = ("auto", "fp32", "bf16")


def bf16_supported(device: str) -> bool:
    """Whether ``device`` does bf16 arithmetic natively: a CUDA GPU that says so, or a CPU with
    AVX512-BF16 or AMX (elsewhere torch emulates bf16 on the CPU, slower than float32)."""
    import torch

    if str(device).startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device == "cpu":
        native = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in native)
    return False


def flops_per_token(model: Any, batch: Mapping[str, Any]) -> dict[str, int]:
    """Training FLOPs per token of ``model`` as its parameters are set to train, counted on
    one forward pass over ``batch`` (any few rows; nothing is learned and no randomness drawn).

    Why (the estimate of Kaplan et al., 2020, split by what is trained): a linear layer
    ``y = W x`` with ``|W|`` weights costs per token

    - forward: ``2 |W|`` (a multiply and an add per weight), in every layer;
    - backward, the activation gradient ``dL/dx = W^T dL/dy``: ``2 |W|``, only where ``x``
      depends on a trained parameter (some trained weight lies below this layer; otherwise
      nothing below needs the gradient and autograd does not compute it);
    - backward, the weight gradient ``dL/dW = dL/dy x^T``: ``2 |W|``, only where ``W`` is trained.

    Training everything (embeddings included) gives the familiar ``6 N`` for ``N`` linear
    weights; the head alone ``2 N`` plus the head's own; LoRA about ``4 N``, because the
    activation gradients still run down to the lowest adapter. Counted here from what autograd
    will really do: a hook on every ``torch.nn.Linear`` (peft's LoRA matrices included) records
    whether its input requires a gradient and whether its weight is trained. Left out, as in the
    usual ``6 N``: biases, layer norms, softmax, the attention-score products (about
    ``length / 6 d`` of the total: 3% at 64 tokens in MiniLM) and the embedding lookups (a
    gather, not a product; their gradient is a scatter-add). The head's layers, applied once
    per sequence, are counted once per token (an overcount, small next to the encoder's layers).
    """
    import torch

    layers: list[tuple[int, bool, bool]] = []  # (|W|, input needs its gradient, W trained)

    def record(module: Any, inputs: tuple[Any, ...], output: Any) -> None:
        layers.append((module.weight.numel(), bool(inputs[0].requires_grad), module.weight.requires_grad))

    handles = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    training = model.training
    model.eval()  # eval draws no dropout masks, so the training run's random stream is untouched
    try:
        with torch.enable_grad():
            model(**batch)
    finally:
        for handle in handles:
            handle.remove()
        model.train(training)
    return {
        "forward": sum(2 * n for n, _, _ in layers),
        "activation_gradients": sum(2 * n for n, needed, _ in layers if needed),
        "weight_gradients": sum(2 * n for n, _, trained in layers if trained),
    }


def config_from(cls: type, options: Mapping[str, Any], what: str = "training") -> Any:
    """The dataclass ``cls`` from ``options``, refusing unknown names in one line."""
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown {what} option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return cls(**options)


def _as_config(config: TrainConfig | dict[str, Any] | None) -> TrainConfig:
    if isinstance(config, dict):
        return config_from(TrainConfig, config)
    return config or TrainConfig()


def shard(batch: Mapping[str, Any], rank: int, world: int) -> tuple[dict[str, Any], bool]:
    """This process's rows of a batch every process drew alike (rows rank, rank + world, ...).

    A process left without rows (a last batch smaller than the number of processes) takes the
    first row and is marked idle: it still joins the gradient averaging, with weight 0.
    """
    rows = {k: v[rank::world] for k, v in batch.items()}
    if len(rows["labels"]):
        return rows, False
    return {k: v[:1] for k, v in batch.items()}, True


def reduce_sum(value: float) -> float:
    """The sum of ``value`` over every process of the group."""
    import torch
    import torch.distributed as dist

    total = torch.tensor([float(value)], dtype=torch.float64)
    dist.all_reduce(total)
    return float(total.item())


def pick_device(device: str = "auto") -> str:
    """``auto`` takes CUDA, then Apple's MPS, then the CPU."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but torch sees no CUDA GPU; use --device auto")
    if device not in ("cpu", "cuda", "mps") and not device.startswith("cuda:"):
        raise ConfigError(f"unknown device '{device}'; use auto, cpu or cuda")
    return device


def score(labels: Sequence[int], predictions: Sequence[int], num_labels: int) -> dict[str, Any]:
    """Accuracy, macro-F1 and the confusion matrix (rows: true label, columns: predicted)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    classes = list(range(num_labels))
    return {
        "accuracy": float(accuracy_score(labels, predictions)),
        "f1": float(f1_score(labels, predictions, average="macro", labels=classes, zero_division=0)),
        "confusion_matrix": confusion_matrix(labels, predictions, labels=classes).tolist(),
        "n": len(labels),
    }


class LengthGroupedBatches:
    """Batches of texts of similar length, drawn afresh each epoch, in random order.

    transformers' ``get_length_grouped_indices`` sorts shuffled groups of batches by length; the
    batches of a group then run from longest to shortest, one group after another. Measured
    (NOTES.md, 2,000 SST-2 phrases, batch 32): that order cost ~3 points of dev accuracy, so the
    batches are shuffled here, keeping the padding saved.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, generator: Any) -> None:
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.generator = generator

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Any:
        import torch
        from transformers.trainer_pt_utils import get_length_grouped_indices

        order = get_length_grouped_indices(self.lengths, self.batch_size, generator=self.generator)
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        for k in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[k]


@dataclass
class TrainingState:
    """What one epoch hands the next, and what an end-of-epoch checkpoint keeps of it."""

    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step: int = 0
    tokens: int = 0
    examples_seen: int = 0
    empty_batches: int = 0
    train_seconds: float = 0.0
    scores: dict[str, Any] = field(default_factory=dict)
    privacy: dict[str, Any] | None = None  # the privacy mechanism's state(), when it has one

    def to_checkpoint(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, saved: Mapping[str, Any]) -> TrainingState:
        return cls(**{f.name: saved[f.name] for f in fields(cls) if f.name in saved})


@dataclass
class _Session:
    """What :meth:`FineTuner._setup` builds once and every epoch and step uses."""

    config: TrainConfig
    model: Any  # the model as trained: wrapped by the privacy engine or DDP where they apply
    optimizer: Any
    criterion: Any
    loader: Any
    scheduler: Any
    autocast: Any
    bf16: bool
    privacy: Any
    world: int
    rank: int
    per_token: dict[str, int]
    parameters: dict[str, int]
    frozen: Any  # the model's FrozenPrefix (its frozen parts stay in eval mode), or None
    cache: dict[str, Any] | None  # what metrics.json records of the cache, when it is used
    score_test: Any  # held-out probabilities from cached rows, or None (the full model)
    saved_at: Path | None
    started: float


class FineTuner:
    """Fine-tunes, evaluates, saves and reloads a sequence classifier and its tokenizer."""

    def __init__(self, loaded: LoadedModel, *, device: str = "auto") -> None:
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.device = pick_device(device)
        if distributed.world_size() > 1 and self.device == "cuda":
            self.device = f"cuda:{distributed.local_rank()}"  # one GPU per process
        self.model.to(self.device)

    @property
    def label_names(self) -> list[str]:
        id2label = self.model.config.id2label
        return [id2label[i] for i in range(len(id2label))]

    @property
    def max_positions(self) -> int:
        return int(self.model.config.max_position_embeddings)

    def check(self, config: TrainConfig | dict[str, Any]) -> TrainConfig:
        """Validate hyper-parameters against this model; raise a one-line error if wrong."""
        from ptm_bert import trainable

        config = _as_config(config)
        config.check(self.max_positions)
        trainable.check_strategy(config.trainable, self.model.config.num_hidden_layers)
        if config.precision == "bf16" and not bf16_supported(self.device):
            raise ConfigError(
                f"precision bf16: this {self.device} has no native bf16 arithmetic; use fp32 or auto"
            )
        return config

    # -- data -----------------------------------------------------------------------------

    def collator(self) -> Any:
        """Pads a list of encoded examples into a batch (labels included)."""
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(self.tokenizer)

    def loss(self, criterion: Any, logits: Any, labels: Any) -> Any:
        """The training loss of a batch: cross-entropy of each text's class."""
        return criterion(logits.float(), labels)

    def encode(self, examples: Sequence[Example], max_length: int) -> list[dict[str, Any]]:
        """Tokenize once, up front, without padding (padding happens per batch)."""
        texts = [e.text for e in examples]
        pairs = [e.text_pair for e in examples]
        second = pairs if any(p is not None for p in pairs) else None
        encoded = self.tokenizer(texts, second, truncation=True, max_length=max_length)
        warn_truncated(self.tokenizer, texts, second, encoded["input_ids"], max_length, self.max_positions)
        return [
            {**{k: v[i] for k, v in encoded.items()}, "labels": e.label}
            for i, e in enumerate(examples)
        ]

    def loader(
        self, features: list[dict[str, Any]], config: TrainConfig, *, positions: bool = False,
        collate: Any = None,
    ) -> Any:
        """Batches of similar length, padded to their longest (far less padding than random).

        With ``positions`` every batch carries explicit ``position_ids`` of shape (batch, length).
        Per-sample gradient engines (Opacus) need that: BERT otherwise broadcasts a (1, length)
        buffer, so its position-embedding layer sees a batch of one and per-example gradients
        cannot be formed for it.
        """
        import torch
        from torch.utils.data import DataLoader

        pad = self.collator()

        def padded(rows: list[dict[str, Any]]) -> dict[str, Any]:
            batch = pad(rows)
            if positions:
                ids = batch["input_ids"]
                batch["position_ids"] = torch.arange(ids.shape[1]).expand_as(ids).clone()
            return batch

        collate = collate or padded

        generator = torch.Generator().manual_seed(config.seed)
        self._generator = generator  # its state goes into every checkpoint
        if config.group_by_length:
            batches = LengthGroupedBatches(
                [f["length"] if "length" in f else len(f["input_ids"]) for f in features], config.batch_size, generator
            )
            return DataLoader(features, batch_sampler=batches, collate_fn=collate)
        sampler = torch.utils.data.RandomSampler(features, generator=generator)
        return DataLoader(features, batch_size=config.batch_size, sampler=sampler, collate_fn=collate)

    # -- training -------------------------------------------------------------------------

    @staticmethod
    def micro_batches(batch: dict[str, Any], size: int | None) -> list[dict[str, Any]]:
        """Split a batch into parts of at most ``size`` examples of similar length.

        Each part is cut to its own longest text, so a large batch of mixed lengths (as Poisson
        sampling draws them) costs far fewer padded tokens. Assumes right padding (BERT's).
        """
        if not size or len(batch["attention_mask"]) <= size:
            return [batch]
        lengths = batch["attention_mask"].sum(1)
        parts = []
        for idx in lengths.argsort().split(size):
            longest = int(lengths[idx].max())
            # Per-token tensors are cut to the part's length; a cached sentence vector has none.
            parts.append(
                {k: (v[idx][:, :longest] if v.dim() >= 2 and k != "pooled" else v[idx]).contiguous()
                 for k, v in batch.items()}
            )
        return parts

    def fit(
        self,
        train: Sequence[Example],
        test: Sequence[Example],
        config: TrainConfig | dict[str, Any],
        *,
        run: RunContext | None = None,
        privacy: Any = None,
        resume: bool = False,
    ) -> dict[str, Any]:
        """Train for ``config.epochs`` epochs, evaluating on ``test`` after each.

        ``privacy`` is a mechanism from a privacy plugin (see :class:`toolkit.registry.PrivacySpec`):
        its ``wrap`` replaces the model, optimizer, loss and loader before the first step, its
        ``epsilon()`` is recorded after every epoch and its ``report()`` joins the metrics.

        Epochs, steps and evaluations are reported through ``run.events`` (the core's
        :class:`toolkit.lifecycle.RunEvents`; silent when the run has none). With a run folder (``run.out_dir``) every completed epoch
        leaves a checkpoint in ``checkpoint/``; ``resume`` continues from it, to the result an
        uninterrupted run with the same seed reaches. When ``run.stop_requested`` turns true
        (Ctrl-C) training stops after the current step with ``KeyboardInterrupt``.

        Returns the metrics: per-epoch history, final scores, examples/s, tokens, FLOPs, seconds.
        """
        config = self.check(config)
        if config.precision == "bf16" and privacy is not None:
            raise ConfigError("precision bf16 is not available with a privacy mechanism; use fp32 or auto")
        run = run or RunContext("train")
        run.events = events_of(run)
        setup = self._setup(train, test, config, run, privacy, resume)
        state = self._restore(setup, run) if resume else TrainingState()
        for epoch in range(state.epoch + 1, config.epochs + 1):
            with run.events.epoch(epoch) as report:
                epoch_loss, epoch_batches = self._epoch(setup, state, epoch, run)
                if config.eval_every_epoch or epoch == config.epochs:
                    # From the cached rows when there are any (subclasses with their own evaluate
                    # never have them: the cache is for BERT's sequence classifiers only).
                    cached = {"probabilities": setup.score_test} if setup.score_test is not None else {}
                    state.scores = self.evaluate(test, config, run=run, split="test", **cached)
                else:
                    state.scores = {}
                report.metrics = {
                    "epoch": epoch,
                    "train_loss": epoch_loss / max(epoch_batches, 1),
                    **{k: v for k, v in state.scores.items() if k != "confusion_matrix"},
                }
                if privacy is not None:
                    report.metrics["epsilon"] = privacy.epsilon()
                state.history.append(report.metrics)
            state.epoch = epoch
            if setup.saved_at is not None and config.checkpoint:
                from ptm_bert import checkpoint

                if privacy is not None and hasattr(privacy, "state"):
                    state.privacy = privacy.state()
                checkpoint.save(setup.saved_at, model=self.model, optimizer=setup.optimizer,
                                scheduler=setup.scheduler, generator=self._generator, state=state.to_checkpoint())
                run.checkpoint_epoch = epoch
        return self._metrics(setup, state, train)

    def frozen_prefix(self) -> Any:
        """The model's frozen bottom (:class:`ptm_bert.frozen.FrozenPrefix`), or None: a
        sequence classifier whose embeddings do not train. Subclasses with other heads say None."""
        from ptm_bert.frozen import FrozenPrefix

        return FrozenPrefix.of(self.model)

    def _setup(self, train: Sequence[Example], test: Sequence[Example], config: TrainConfig, run: RunContext,
               privacy: Any, resume: bool) -> _Session:
        """Everything the epochs share: the (wrapped) model, optimizer, loss, loader, schedule."""
        import torch
        from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup, set_seed

        from ptm_bert import trainable

        world = distributed.world_size()
        if world > 1:
            if resume:
                raise ConfigError("resume a run in one process (without torchrun)")
            distributed.init(self.device)
        set_seed(config.seed)
        self.model = trainable.apply(self.model, config.trainable)
        parameters = trainable.count(self.model)
        model = self.model
        features = self.encode(train, config.max_length)
        frozen = self.frozen_prefix()
        cache, score_test = None, None
        # One process only: across processes each would cache the whole data set (kept simple).
        if frozen is not None and config.cache_frozen and world == 1:
            from ptm_bert.frozen import cache_rows

            cached = cache_rows(frozen, features, self.collator(), device=self.device)
            if cached is not None:
                rows, cache = cached
        if cache is not None:
            top = model = frozen.top()
            loader = self.loader(rows, config, collate=frozen.collate)
            test_rows = frozen.rows(self.encode(test, config.max_length), self.collator(), device=self.device)
            score_test = lambda: self._score(test_rows, config.eval_batch_size, model=top, collate=frozen.collate)  # noqa: E731
        else:
            loader = self.loader(features, config, positions=privacy is not None)
        # Training cost: forward in every layer, backward only where needed (flops_per_token);
        # counted on the bare model, before a privacy engine or DDP wraps it.
        probe = DataCollatorWithPadding(self.tokenizer)(
            [{k: v for k, v in f.items() if k != "labels"} for f in features[:2]]
        )
        per_token = flops_per_token(self.model, {k: v.to(self.device) for k, v in probe.items()})
        optimizer = adamw(
            [p for p in self.model.parameters() if p.requires_grad],  # the same with a cached top
            lr=config.lr,
            weight_decay=config.weight_decay,
        )
        criterion = torch.nn.CrossEntropyLoss()
        if privacy is not None:
            model.train()  # Opacus validates the model in training mode
            if world > 1:
                # Each process Poisson-samples its shard of the data at the global sample rate;
                # the privacy plugin supplies the data parallelism that keeps its guarantee.
                if not hasattr(privacy, "distributed"):
                    raise ConfigError("this privacy mechanism cannot train across processes; run one process")
                model = privacy.distributed(model)
            model, optimizer, criterion, loader = privacy.wrap(
                model, optimizer, criterion, loader, epochs=config.epochs
            )
        elif world > 1:
            # Every process draws the same batches (same seed) and trains on its share of each;
            # DistributedDataParallel averages the gradients, which the loss scaling below makes
            # the mean over the whole batch.
            from torch.nn.parallel import DistributedDataParallel

            local = [int(self.device.split(":")[1])] if self.device.startswith("cuda:") else None
            model = DistributedDataParallel(model, device_ids=local)
        # bf16 autocast where asked, or by default on a GPU that supports it; the CPU stays in
        # float32 by default (the reference), and so does DP-SGD (Opacus' per-example gradients
        # are computed in the layers' dtype).
        on_gpu = str(self.device).startswith("cuda")
        bf16 = config.precision == "bf16" or (
            config.precision == "auto" and on_gpu and bf16_supported(self.device) and privacy is None
        )
        autocast = (
            torch.autocast("cuda" if on_gpu else str(self.device), dtype=torch.bfloat16)
            if bf16 else contextlib.nullcontext()
        )
        total_steps = config.epochs * len(loader)
        scheduler = get_linear_schedule_with_warmup(
            optimizer, math.ceil(config.warmup_ratio * total_steps), total_steps
        )
        run.model, run.tokenizer, run.optimizer = model, self.tokenizer, optimizer
        saved_at = RunFolder(run.out_dir).checkpoint_dir if run.out_dir is not None else None
        return _Session(config=config, model=model, optimizer=optimizer, criterion=criterion, loader=loader,
                        scheduler=scheduler, autocast=autocast, bf16=bf16, privacy=privacy, world=world,
                        rank=distributed.rank(), per_token=per_token, parameters=parameters,
                        frozen=frozen, cache=cache, score_test=score_test, saved_at=saved_at,
                        started=time.perf_counter())

    def _restore(self, setup: _Session, run: RunContext) -> TrainingState:
        """The state of the last checkpointed epoch, put back into the fresh training objects."""
        from ptm_bert import checkpoint

        if setup.saved_at is None:
            raise ConfigError("resuming needs the run folder that holds the checkpoint")
        privacy = setup.privacy
        if privacy is not None and not hasattr(privacy, "load_state"):
            raise ConfigError("this privacy mechanism cannot resume its accounting; train the run again")
        saved = checkpoint.load(setup.saved_at, model=self.model, optimizer=setup.optimizer,
                                scheduler=setup.scheduler, generator=self._generator)
        state = TrainingState.from_checkpoint(saved)
        if privacy is not None:
            privacy.load_state(state.privacy)
        run.checkpoint_epoch = state.epoch
        return state

    def _epoch(self, setup: _Session, state: TrainingState, epoch: int, run: RunContext) -> tuple[float, int]:
        """One pass over the loader; returns the summed step losses and the steps taken."""
        from tqdm.auto import tqdm

        from toolkit.progress import bar_options

        config = setup.config
        epoch_loss, epoch_batches, epoch_start = 0.0, 0, time.perf_counter()
        setup.model.train()
        if setup.frozen is not None:
            setup.frozen.freeze_modes()  # no dropout where nothing trains (and the cache stays exact)
        bar = tqdm(setup.loader, desc=f"epoch {epoch}/{config.epochs}", unit="batch", **bar_options(config.progress))
        for batch in bar:
            if not isinstance(batch, Mapping):
                # Poisson sampling drew no example (probability about e^-batch_size);
                # Opacus hands over empty tensors, which a BERT cannot take.
                state.empty_batches += 1
                continue
            state.step += 1
            with run.events.step(state.step, batch) as report:
                report.loss, examples, tokens = self._step(setup, batch)
            epoch_loss += report.loss
            epoch_batches += 1
            state.step_loss.append(report.loss)
            state.tokens += tokens
            state.examples_seen += examples
            elapsed = state.train_seconds + time.perf_counter() - epoch_start
            bar.set_postfix({"loss": f"{report.loss:.3f}", "examples/s": f"{state.examples_seen / elapsed:.0f}"})
            if run.stop_requested:
                raise KeyboardInterrupt(f"stopped by the user during epoch {epoch}, after step {state.step}")
        state.train_seconds += time.perf_counter() - epoch_start
        return epoch_loss, epoch_batches

    def _step(self, setup: _Session, batch: dict[str, Any]) -> tuple[float, int, int]:
        """One optimiser step on a batch (in parts of ``micro_batch_size``); returns the batch's
        loss (the mean over all processes) and the examples and tokens this process trained on
        (its share of the batch across processes; none when it sat the batch out)."""
        world, privacy = setup.world, setup.privacy
        whole = len(batch["labels"])
        idle = False
        if world > 1 and privacy is None:
            batch, idle = shard(batch, setup.rank, world)
        batch = {k: v.to(self.device) for k, v in batch.items()}
        labels = batch["labels"]
        parts = self.micro_batches(batch, setup.config.micro_batch_size)
        loss_value = 0.0
        for k, part in enumerate(parts):
            part = dict(part)
            part_labels = part.pop("labels")
            with setup.autocast:
                loss = self.loss(setup.criterion, setup.model(**part).logits, part_labels)
            # This part's share of the whole batch (all processes together).
            share = 0.0 if idle else len(part_labels) / whole * (world if privacy is None else 1)
            loss_value += loss.item() * share
            if privacy is None:
                # Weighted so the summed gradient is the whole batch's mean.
                (loss * share).backward()
            else:
                # Per-example gradients are clipped whole; the mechanism accumulates them
                # across parts and adds noise once.
                loss.backward()
                if k < len(parts) - 1:
                    privacy.accumulate(setup.optimizer)
        setup.optimizer.step()
        setup.scheduler.step()
        setup.optimizer.zero_grad(set_to_none=True)
        if world > 1:
            loss_value = reduce_sum(loss_value) / world
        if idle:
            return loss_value, 0, 0
        return loss_value, int(labels.shape[0]), int(batch["attention_mask"].sum())

    def _metrics(self, setup: _Session, state: TrainingState, train: Sequence[Example]) -> dict[str, Any]:
        tokens, examples_seen = state.tokens, state.examples_seen
        if setup.world > 1:
            tokens, examples_seen = int(reduce_sum(tokens)), int(reduce_sum(examples_seen))
        scores = state.scores
        metrics = {
            "world_size": setup.world,
            "history": state.history,
            "step_loss": state.step_loss,
            "final": scores,
            # the headline scores at the top level too (those of every task: numbers only)
            **{k: v for k, v in scores.items() if isinstance(v, (int, float)) and k != "n"},
            "train_examples": len(train),
            "steps": state.step,
            "examples_per_second": examples_seen / state.train_seconds if state.train_seconds else 0.0,
            "tokens_seen": tokens,
            "train_flops_estimate": sum(setup.per_token.values()) * tokens,
            "train_flops_per_token": setup.per_token,
            "dtype": "bf16" if setup.bf16 else "fp32",  # the arithmetic; "precision" is a score of some tasks
            "train_seconds": state.train_seconds,
            "seconds": time.perf_counter() - setup.started,
            "trainable": setup.config.trainable,
            **setup.parameters,
            "config": asdict(setup.config),
        }
        if setup.cache is not None:
            metrics["frozen_cache"] = setup.cache
        if setup.privacy is not None:
            report = setup.privacy.report()
            metrics.update(report, privacy=report)
            metrics["empty_batches_skipped"] = state.empty_batches
            setup.privacy.close()
        return metrics

    # -- inference ------------------------------------------------------------------------

    def predict_proba(
        self,
        texts: Sequence[str],
        *,
        text_pairs: Sequence[str] | None = None,
        max_length: int = 128,
        batch_size: int = 128,
    ) -> Any:
        """Class probabilities, one row per text (or text pair), batched by length, in order."""
        pairs = list(text_pairs) if text_pairs is not None else [None] * len(texts)
        examples = [Example(text=t, label=0, text_pair=p) for t, p in zip(texts, pairs)]
        return self._probabilities(examples, max_length, batch_size)

    def losses(self, examples: Sequence[Example], *, max_length: int = 128, batch_size: int = 128) -> list[float]:
        """Cross-entropy of each labelled example (what a membership-inference attack sees)."""
        import torch

        probs = self._probabilities(examples, max_length, batch_size)
        labels = torch.tensor([e.label for e in examples])
        picked = probs[torch.arange(len(examples)), labels].clamp_min(1e-12)
        return (-picked.log()).tolist()

    def _probabilities(self, examples: Sequence[Example], max_length: int, batch_size: int) -> Any:
        import torch

        features = self.encode(examples, max_length)
        for f in features:
            f.pop("labels")
        world = distributed.world_size()
        if world > 1 and torch.distributed.is_initialized():
            # Each process scores every world-th example; the rows are gathered (as tensors,
            # padded to the same count) so every process ends with all probabilities.
            rank, per = distributed.rank(), math.ceil(len(features) / world)
            local = self._score(features[rank::world], batch_size)
            padded = torch.zeros(per, self.model.config.num_labels)
            padded[: len(local)] = local
            gathered = [torch.empty_like(padded) for _ in range(world)]
            torch.distributed.all_gather(gathered, padded)
            probs = torch.empty(len(features), self.model.config.num_labels)
            for r, rows in enumerate(gathered):
                count = len(range(r, len(features), world))
                probs[r::world] = rows[:count]
            return probs
        return self._score(features, batch_size)

    def _score(self, features: list[dict[str, Any]], batch_size: int, *, model: Any = None,
               collate: Any = None) -> Any:
        """Class probabilities of encoded examples, in order, batched by length: through the
        whole model, or (``model``, ``collate``) through a trained top on cached rows."""
        import torch
        from transformers import DataCollatorWithPadding

        model = model or self.model
        collate = collate or DataCollatorWithPadding(self.tokenizer)
        length = lambda i: features[i]["length"] if "length" in features[i] else len(features[i]["input_ids"])  # noqa: E731
        order = sorted(range(len(features)), key=length)
        probs = torch.empty(len(features), self.model.config.num_labels)
        model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = collate([features[i] for i in idx])
                batch.pop("labels", None)
                batch = {k: v.to(self.device) for k, v in batch.items()}
                probs[idx] = model(**batch).logits.float().softmax(-1).cpu()
        return probs

    def evaluate(
        self,
        examples: Sequence[Example],
        config: TrainConfig | dict[str, Any] | None = None,
        *,
        run: RunContext | None = None,
        split: str = "test",
        probabilities: Any = None,
    ) -> dict[str, Any]:
        """Accuracy, macro-F1, confusion matrix and n on labelled examples.

        ``probabilities`` (during training) gives the examples' class probabilities another way
        (from the frozen layers' cached output) instead of the full forward pass.
        """
        config = _as_config(config)
        if not examples:
            raise ConfigError(f"no examples to evaluate in split '{split}'")
        with events_of(run, "evaluate").evaluate(split) as report:
            if probabilities is not None:
                probs = probabilities()
            else:
                probs = self._probabilities(examples, config.max_length, config.eval_batch_size)
            report.scores = score([e.label for e in examples], probs.argmax(-1).tolist(), len(self.label_names))
        return report.scores

    # -- persistence ----------------------------------------------------------------------

    def save(self, model_dir: Path) -> None:
        """Weights as safetensors, the config with label names, and the tokenizer."""
        from ptm_bert import trainable

        self.model = trainable.merged(self.model)
        self.model.save_pretrained(model_dir, safe_serialization=True)
        self.tokenizer.save_pretrained(model_dir)

    @classmethod
    def from_saved(cls, model_dir: Path, *, device: str = "auto") -> FineTuner:
        """Reload a model saved by :meth:`save` (safetensors only; no remote code)."""
        return cls(load_pretrained(model_dir), device=device)
