"""Hugging Face datasets by name (``hf:glue/sst2``) or from a folder made by ``save_to_disk``.

Needs the ``hub`` extra (``pip install 'ptm-toolkit[hub]'``), which installs ``datasets``.
"""

from __future__ import annotations

from pathlib import Path

from toolkit.data import Example, TextDataset
from toolkit.errors import ConfigError

from ptm_textdata.files import LABEL_COLUMNS, TEXT_COLUMNS, pick_column


def load_hub(
    *, ref: str, text_column: str | None = None, label_column: str | None = None
) -> TextDataset:
    """Load ``hf:NAME[/CONFIG]`` (or ``hf:PATH`` to a saved dataset) with the datasets library."""
    name = ref.removeprefix("hf:")
    try:
        import datasets
    except ImportError:
        raise ConfigError(
            f"'{ref}' needs the datasets library; pip install 'ptm-toolkit[hub]'"
        ) from None
    try:
        if Path(name).is_dir():
            loaded = datasets.load_from_disk(name)
        else:
            path, _, config = name.partition("/")
            loaded = datasets.load_dataset(path, config or None)
    except (FileNotFoundError, ConnectionError, ValueError, OSError) as error:
        raise ConfigError(
            f"could not load '{ref}' ({type(error).__name__}); offline, only datasets in the "
            "local Hugging Face cache or a save_to_disk folder load"
        ) from None
    if isinstance(loaded, datasets.Dataset):
        loaded = datasets.DatasetDict({"all": loaded})
    first = next(iter(loaded.values()))
    columns = list(first.column_names)
    where = Path(ref)
    text_key = pick_column(columns, text_column, TEXT_COLUMNS, "text", where)
    label_key = pick_column(columns, label_column, LABEL_COLUMNS, "label", where)
    feature = first.features[label_key]
    names = tuple(getattr(feature, "names", None) or [])
    splits: dict[str, list[Example]] = {}
    for split, rows in loaded.items():
        labels = rows[label_key]
        if any(label < 0 for label in labels):  # GLUE test splits carry label -1 (hidden)
            continue
        splits["test" if split == "validation" else split] = [
            Example(text=str(t), label=int(y)) for t, y in zip(rows[text_key], labels)
        ]
    if not names:
        names = tuple(str(i) for i in range(1 + max(e.label for rows in splits.values() for e in rows)))
    return TextDataset(name=ref, label_names=names, splits=splits, source=f"Hugging Face: {name}")
