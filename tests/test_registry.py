from __future__ import annotations

import pytest

from toolkit import hookimpl
from toolkit.errors import DuplicateIdError, PluginLoadError, RegistryError, UnknownIdError
from toolkit.manager import create_plugin_manager
from toolkit.registry import (
    DatasetSpec,
    ExplainerSpec,
    Lesson,
    ModelSpec,
    Registrar,
    Registry,
    TaskSpec,
    resolve_factory,
)


def _model(id="m1", factory="os.path:join"):
    return ModelSpec(id=id, summary="a model", factory=factory)


def test_registrar_stamps_the_plugin_and_returns_the_record():
    staged = []
    record = Registrar("ptm_register_models", "acme", staged)(_model())
    assert record.plugin == "acme"
    assert staged == [record]


def test_registrar_rejects_the_wrong_record_type_and_names_the_right_hook():
    register = Registrar("ptm_register_models", "acme", [])
    wrong = DatasetSpec(id="d1", summary="data", factory="os:getcwd")
    with pytest.raises(RegistryError) as info:
        register(wrong)
    message = str(info.value)
    assert "plugin 'acme' passed a DatasetSpec to ptm_register_models" in message
    assert "ptm_register_datasets" in message


@pytest.mark.parametrize("bad_id", ["", "Has Caps", "-lead", "x" * 41, 7])
def test_registrar_rejects_malformed_ids(bad_id):
    with pytest.raises(RegistryError, match="ids are 1-40 characters"):
        Registrar("ptm_register_models", "acme", [])(_model(id=bad_id))


def test_registrar_refuses_a_record_without_summary():
    with pytest.raises(RegistryError, match="without a summary"):
        Registrar("ptm_register_models", "acme", [])(ModelSpec(id="m", summary=" ", factory=len))


def test_duplicate_id_across_plugins_names_both_plugins():
    registry = Registry()
    registry.add(Registrar("ptm_register_models", "first", [])(_model()))
    with pytest.raises(DuplicateIdError) as info:
        registry.add(Registrar("ptm_register_models", "second", [])(_model()))
    assert "'first'" in str(info.value) and "'second'" in str(info.value)


def test_same_id_in_different_kinds_is_fine():
    registry = Registry()
    registry.add(Registrar("ptm_register_models", "p", [])(_model(id="same")))
    registry.add(Registrar("ptm_register_tasks", "p", [])(TaskSpec(id="same", summary="t")))
    assert registry.ids("model") == ["same"] and registry.ids(TaskSpec) == ["same"]


def test_unknown_id_answers_with_the_closest_ids():
    registry = Registry()
    for id in ("reviews", "sst2", "imdb"):
        registry.add(DatasetSpec(id=id, summary="d", factory=len, plugin="p"))
    with pytest.raises(UnknownIdError) as info:
        registry.get(DatasetSpec, "revews")
    assert str(info.value) == (
        "dataset 'revews' not found. Did you mean 'reviews'? (ptm plugins list --all)"
    )
    assert info.value.suggestions == ["reviews"]


def test_unknown_id_without_close_match_still_says_where_to_look():
    with pytest.raises(UnknownIdError, match=r"^explainer 'zzz' not found\. \(ptm plugins"):
        Registry().get(ExplainerSpec, "zzz")


def test_lazy_factory_strings_resolve_on_demand():
    import os.path

    assert _model(factory="os.path:join").load() is os.path.join
    assert resolve_factory(len) is len
    with pytest.raises(RegistryError, match="not 'module:attribute'"):
        resolve_factory("os.path.join")


def test_registry_remembers_which_plugin_gave_what():
    class Acme:
        @hookimpl
        def ptm_register_models(self, register):
            register(_model(id="acme-bert"))

        @hookimpl
        def ptm_register_lessons(self, register):
            register(Lesson(id="acme-101", title="Intro", summary="an intro lesson"))

    pm = create_plugin_manager(entry_points=False, plugins=[Acme()])
    name = pm.get_name(pm.get_plugins().pop())
    registry = pm.registry
    assert registry.get(ModelSpec, "acme-bert").plugin == name
    assert registry.by_plugin(name) == {"model": ["acme-bert"], "lesson": ["acme-101"]}
    assert pm.statuses[name].hooks == ["ptm_register_lessons", "ptm_register_models"]


def test_a_plugin_registering_the_wrong_type_is_dropped_whole_with_a_warning():
    class Good:
        @hookimpl
        def ptm_register_models(self, register):
            register(_model(id="good"))

    class Confused:
        @hookimpl
        def ptm_register_models(self, register):
            register(_model(id="fine"))
            register(TaskSpec(id="oops", summary="a task in the wrong hook"))

    warnings = []
    pm = create_plugin_manager(entry_points=False, env={}, report=warnings.append)
    pm.register(Good(), name="good")
    pm.register(Confused(), name="confused")
    assert pm.registry.ids(ModelSpec) == ["good"]  # 'fine' is withdrawn with its plugin
    assert pm.statuses["confused"].status.startswith("failed: RegistryError: plugin 'confused'")
    assert len(warnings) == 1 and "plugin 'confused' failed" in warnings[0]


def test_duplicate_between_two_plugins_drops_the_later_one_unless_strict():
    class A:
        @hookimpl
        def ptm_register_models(self, register):
            register(_model(id="dup"))

    class B(A):
        pass

    warnings = []
    pm = create_plugin_manager(entry_points=False, env={}, report=warnings.append)
    pm.register(A(), name="a")
    pm.register(B(), name="b")
    assert pm.registry.get(ModelSpec, "dup").plugin == "a"
    assert "registered by both plugin 'a' and plugin 'b'" in warnings[0]

    strict = create_plugin_manager(entry_points=False, env={"PTM_STRICT_PLUGINS": "1"})
    strict.register(A(), name="a")
    strict.register(B(), name="b")
    with pytest.raises(PluginLoadError, match="registered by both plugin 'a' and plugin 'b'"):
        strict.registry  # noqa: B018


def test_declared_options_are_checked_before_the_factory_runs():
    from toolkit.errors import ConfigError
    from toolkit.registry import Option, PrivacySpec

    calls = []
    spec = PrivacySpec(id="noisy", summary="a mechanism", plugin="acme", factory=lambda **kw: calls.append(kw),
                       options={"epsilon": Option(help="budget", type=float),
                                "accountant": Option(help="how", type=str, choices=("rdp", "prv"), default="rdp")})
    spec.load()(epsilon=8, accountant="prv")
    assert calls == [{"epsilon": 8.0, "accountant": "prv"}]
    for given, message in [
        ({"colour": "red"}, "privacy 'noisy' has no option colour (options: epsilon, accountant)"),
        ({"accountant": "moments"}, "accountant 'moments' is not one of rdp, prv (privacy 'noisy')"),
        ({"epsilon": "lots"}, "epsilon takes a number, got 'lots' (privacy 'noisy')"),
        ({"epsilon": True}, "epsilon takes a number, got True (privacy 'noisy')"),
    ]:
        with pytest.raises(ConfigError) as caught:
            spec.load()(**given)
        assert str(caught.value) == message
    assert len(calls) == 1  # the factory never ran with a bad option
    assert spec.options["accountant"].describe() == "rdp or prv; default rdp"

    undeclared = ExplainerSpec(id="x", summary="s", factory=dict)
    assert undeclared.load() is dict and undeclared.check_options({"any": 1}) == {"any": 1}
    with pytest.raises(RegistryError, match=r"^explainer 'x': option 'n_steps' is 50, not a toolkit.registry.Option"):
        ExplainerSpec(id="x", summary="s", factory=dict, options={"n_steps": 50})
