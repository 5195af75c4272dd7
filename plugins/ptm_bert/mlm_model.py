"""The masked-language model a pretraining run starts from.

Random weights in a preset shape (``tiny-bert``, ``mini-bert``) or the shape of a BERT
``config.json``, with MiniLM's uncased vocabulary or a WordPiece vocabulary trained on the
corpus; or the learnt weights of a model folder, run or hub id, to continue pretraining.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError
from toolkit.runs import json_kind

from ptm_bert.models import TINY_BERT, minilm_path, verified_minilm_path
from ptm_bert.pretrain_config import PretrainConfig

# BERT-mini's shape (Turc et al. 2019: 4 layers, hidden 256): small enough to pretrain on two
# CPU cores in minutes, large enough to learn something a fine-tuned classifier can use.
MINI_BERT = {
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 1024,
    "max_position_embeddings": 512,
}
PRESETS = {"tiny-bert": TINY_BERT, "mini-bert": MINI_BERT}


def start_model(ref: str, config: PretrainConfig, texts: Sequence[str]) -> tuple[Any, Any, str]:
    """(BertForMaskedLM, tokenizer, how it starts) for ``--model``.

    ``tiny-bert``, ``mini-bert`` or a BERT ``config.json`` start from random weights (with
    MiniLM's uncased vocabulary, or a WordPiece vocabulary trained on ``texts``). A model
    folder, a ``ptm`` run folder, ``minilm`` or a hub id continue pretraining from their
    weights with their own tokenizer (domain-adaptive pretraining).
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from ptm_bert.models import _quiet_transformers, model_folder, refused_remote_code, safe_source

    _quiet_transformers()
    path = Path(ref).expanduser()
    if ref in PRESETS or path.suffix == ".json":
        if ref in PRESETS:
            shape = dict(PRESETS[ref])
        else:
            shape = read_model_config(path)
        tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()), trust_remote_code=False)
        if config.tokenizer == "train":
            # A WordPiece vocabulary learnt from the corpus by the `tokenizers` library, with
            # BERT's uncased normalisation and special tokens kept.
            tokenizer = tokenizer.train_new_from_iterator(iter(texts), vocab_size=config.vocab_size)
            check_vocabulary(tokenizer, config.vocab_size)
        shape.update(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
        shape.pop("architectures", None)
        torch.manual_seed(config.seed)
        try:
            bert = BertConfig(**shape)
            return BertForMaskedLM(bert), tokenizer, f"random weights ({ref})"
        except Exception as error:  # noqa: BLE001 - transformers' checks of the file's fields, of several types
            raise ConfigError(
                f"model config {path} does not describe a BERT ({one_line(error)}); "
                "fix the file, or start from tiny-bert"
            ) from None
    if config.tokenizer == "train":
        raise ConfigError(
            "--tokenizer train needs a model built from a config (tiny-bert, mini-bert or a "
            f"config.json); '{ref}' has learnt weights for its own vocabulary"
        )
    source = str(verified_minilm_path()) if ref == "minilm" else model_folder(ref)
    try:
        source = safe_source(source)
        model = BertForMaskedLM.from_pretrained(source, use_safetensors=True, trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    except ValueError as error:
        raise refused_remote_code(error, ref) or error from None
    except OSError as error:
        raise ConfigError(
            f"model '{ref}' is not tiny-bert, mini-bert, a config.json, a model folder or a "
            f"loadable Hugging Face id: {str(error).splitlines()[0]}"
        ) from None
    return model, tokenizer, f"continued from {ref}"


def read_model_config(path: Path) -> dict[str, Any]:
    """The fields of a BERT ``config.json`` given as ``--model``, refused in one line unless
    the file is a JSON object."""
    import json

    if not path.is_file():
        raise ConfigError(f"model config {path} does not exist; give a BERT config.json or tiny-bert")
    try:
        shape = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(
            f"model config {path} is not valid JSON ({one_line(error)}); fix the file, or start from tiny-bert"
        ) from None
    if not isinstance(shape, dict):
        raise ConfigError(
            f"model config {path} holds a JSON {json_kind(shape)}, not an object of BERT settings; "
            'write e.g. {"hidden_size": 64, "num_hidden_layers": 2}, or start from tiny-bert'
        )
    return shape


def check_vocabulary(tokenizer: Any, vocab_size: int) -> None:
    """Refuse a ``--vocab-size`` the trained vocabulary outgrew.

    The WordPiece trainer of the ``tokenizers`` library accepts any size, but always keeps the
    special tokens and every character of the corpus, alone and as a ``##`` continuation (its
    alphabet), and only then adds merged pieces up to the size: below that floor it silently
    returns a larger vocabulary than the one asked for.
    """
    if len(tokenizer) > vocab_size:
        raise ConfigError(
            f"--vocab-size {vocab_size} is below this corpus's minimum of {len(tokenizer)} (BERT's "
            f"{len(tokenizer.all_special_tokens)} special tokens, and every character of the corpus alone "
            f"and as a ##continuation, which the WordPiece trainer always keeps); give --vocab-size "
            f"{len(tokenizer)} or more (the default is {PretrainConfig.vocab_size})"
        )


def one_line(error: BaseException) -> str:
    """An error's text on one line (transformers' field checks span two)."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return (text or type(error).__name__)[:200]
