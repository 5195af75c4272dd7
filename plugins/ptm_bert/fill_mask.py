"""What a pretrained model learnt: the words it puts in each [MASK] (``ptm predict-mask``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError

from ptm_bert.mlm_model import one_line


def predict_mask(ref: str | Path, texts: Sequence[str], *, top_k: int = 5) -> list[dict[str, Any]]:
    """The ``top_k`` fillers of every [MASK] in each text, through transformers' fill-mask pipeline."""
    from transformers import AutoTokenizer, BertForMaskedLM, pipeline

    from ptm_bert.models import _quiet_transformers, refused_remote_code, safe_source

    if top_k <= 0:
        raise ConfigError(f"--top-k must be positive, got {top_k}")
    texts = list(texts)
    if not texts or any(not t.strip() for t in texts):
        raise ConfigError("give at least one non-empty text, with [MASK] where a word is missing")
    _quiet_transformers()
    source = safe_source(_mask_model_folder(Path(ref).expanduser()))
    try:
        model, info = BertForMaskedLM.from_pretrained(
            source, use_safetensors=True, output_loading_info=True, trust_remote_code=False
        )
    except (OSError, ValueError) as error:
        raise refused_remote_code(error, str(ref)) or ConfigError(
            f"{ref} cannot be opened as a BERT masked-language model ({one_line(error)}); give the "
            "--out of a ptm pretrain run"
        ) from None
    if any(key.startswith("cls.predictions") for key in info["missing_keys"]):
        raise ConfigError(
            f"{ref} has no masked-language-model head (a classifier, or an encoder saved without "
            "it); give the --out of a ptm pretrain run"
        )
    vocabulary = int(model.config.vocab_size)
    if top_k > vocabulary:
        raise ConfigError(
            f"--top-k {top_k} exceeds the model's vocabulary of {vocabulary:,} tokens; give at most {vocabulary}"
        )
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    mask = tokenizer.mask_token
    for text in texts:
        if mask not in text:
            raise ConfigError(f"'{text[:40]}' has no {mask}; write e.g. \"the film was {mask} .\"")
    fill = pipeline("fill-mask", model=model, tokenizer=tokenizer, top_k=top_k, device="cpu")
    results = []
    for text in texts:
        answer = fill(text)
        # One [MASK] gives a list of candidates, several give a list per mask.
        per_mask = answer if answer and isinstance(answer[0], list) else [answer]
        results.append(
            {
                "text": text,
                "masks": [
                    [{"token": c["token_str"].strip(), "probability": float(c["score"])} for c in candidates]
                    for candidates in per_mask
                ],
            }
        )
    return results


def _mask_model_folder(path: Path) -> Path:
    """The model folder ``predict-mask`` reads: a finished run's ``model/`` (opened like every
    run: its status and weights checked) or a saved model folder; anything else in one line."""
    from toolkit.runs import RunFolder

    if not path.exists():
        raise ConfigError(f"run folder {path} does not exist; give the --out of a ptm pretrain run")
    if not path.is_dir():
        raise ConfigError(f"{path} is a file, not a run folder; give the --out of a ptm pretrain run")
    if (path / "model").is_dir() or (path / "metrics.json").exists():
        return RunFolder.open(path).model_dir
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"{path} is neither a ptm run nor a saved model folder (it has no config.json); give "
            "the --out of a ptm pretrain run"
        )
    return path
