"""The typed contracts: every built-in object fits its protocol, and a plugin's object that does
not is refused in one line naming what it lacks, before anything is written."""

from __future__ import annotations

import pytest

from toolkit import hookimpl, pipeline
from toolkit.errors import PtmError
from toolkit.protocols import (
    Explainer, PrivacyMechanism, Task, Trainer, WordTagger, conform, members, missing,
)
from toolkit.registry import ExplainerSpec, PrivacySpec, TaskSpec, TrainerSpec


def test_every_built_in_record_makes_what_its_protocol_says(ptm_manager):
    from ptm_bert.models import load_tiny_bert

    registry = ptm_manager.registry
    for spec in registry.records(TrainerSpec):
        factory = spec.load()
        assert callable(getattr(factory, "from_saved", None)), spec.id
        head = "token" if spec.id == "tagger" else "sequence"
        trainer = factory(load_tiny_bert(num_labels=3, head=head), device="cpu")
        assert missing(trainer, WordTagger if spec.id == "tagger" else Trainer) == [], spec.id
    for spec in registry.records(PrivacySpec):
        assert missing(spec.load()(epsilon=8.0), PrivacyMechanism) == [], spec.id
    model = load_tiny_bert(num_labels=2)
    for spec in registry.records(ExplainerSpec):
        assert isinstance(spec.load()(model.model, model.tokenizer), Explainer), spec.id
    for spec in registry.records(TaskSpec):
        assert isinstance(spec, Task) and missing(spec, Task) == [], spec.id


def test_protocol_members_include_attributes_and_inherited_methods():
    assert {"model", "tokenizer", "device", "label_names", "fit", "evaluate"} <= set(members(Trainer))
    assert set(members(Trainer)) < set(members(WordTagger))


def test_conform_names_what_is_missing_in_one_line():
    class Half:
        def explain(self, texts, *, target=None):
            return []

    with pytest.raises(PtmError) as caught:
        conform(Half(), PrivacyMechanism, "privacy 'half' of plugin 'x'")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("privacy 'half' of plugin 'x' returned a Half without accumulate, close, epsilon, plan, report, wrap")


def test_a_plugin_trainer_without_the_contract_is_refused_before_the_folder_exists(ptm_manager, ptm_register, tmp_path):
    class Lazy:
        """A trainer that forgot evaluate and save."""

        def __init__(self, loaded, *, device="auto"):
            self.model, self.tokenizer, self.device = loaded.model, loaded.tokenizer, "cpu"
            self.label_names = ["neg", "pos"]

        def check(self, config):
            return config

        def fit(self, *args, **kwargs):
            return {}

        def predict_proba(self, texts, *, text_pairs=None):
            return None

    class Plugin:
        @hookimpl
        def ptm_register_trainers(self, register):
            register(TrainerSpec(id="lazy", summary="forgets half its job", factory=Lazy))

    ptm_register(Plugin(), name="lazy-plugin")
    with pytest.raises(PtmError, match=r"^trainer 'lazy' of plugin 'lazy-plugin' returned a Lazy without evaluate, save"):
        pipeline.train(ptm_manager, model="tiny-bert", trainer="lazy", out=tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_the_plugin_author_checks_pass_for_every_built_in_task_and_its_data(ptm_manager):
    from toolkit.contracts import check_task

    for task in ptm_manager.registry.ids(TaskSpec):
        assert check_task(ptm_manager, task).id == task
