"""The `write-a-plugin` lesson, headless: a third-party explainer written against the public
contract, registered through a hook, checked with ``toolkit.testing`` and then measured with
the same tools as the built-in methods.

The plugin is ``plugin_example/ptm_gradient_shap.py`` (with its pyproject.toml), shipped with
the course and copied into the lesson's folder, where a student can read, change and
``pip install -e`` it.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

PLUGIN = "ptm_gradient_shap"
METHOD = "gradient-shap"
EXAMPLES = (
    "A warm, funny and beautifully acted film.",
    "I would not call it boring at all.",
    "The plot is thin and the jokes fall flat.",
)
MAX_RANDOMIZED_SPEARMAN = 0.5


def copy_plugin(dest: str | Path, *, overwrite: bool = False) -> Path:
    """Copy the example plugin's files into the folder ``dest``; return the module's path.

    A file already there (a student's edited copy) is kept unless ``overwrite``.
    """
    source = resources.files("ptm_course") / "plugin_example"
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (f"{PLUGIN}.py", "pyproject.toml"):
        if (folder / name).exists() and not overwrite:
            continue
        with resources.as_file(source / name) as path:
            shutil.copyfile(path, folder / name)
    return folder / f"{PLUGIN}.py"


def load_plugin(pm: Any, path: str | Path) -> Any:
    """Import the plugin module from ``path`` and register it on ``pm`` (replacing an earlier
    copy): what the ``ptm`` entry point does once the package is pip-installed."""
    spec = importlib.util.spec_from_file_location(PLUGIN, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[PLUGIN] = module
    if pm.has_plugin(PLUGIN):
        pm.unregister(name=PLUGIN)
    pm.register(module, name=PLUGIN)
    return module


def run(pm: Any, *, out: Path, quick: bool = False, device: str = "auto", progress: bool = True) -> Any:
    from ptm_course.explainability import method_row
    from toolkit import explain_views, hookspecs, pipeline
    from toolkit.lessons import LessonResult
    from toolkit.registry import ExplainerSpec
    from toolkit.report import Section
    from toolkit.contracts import check_explainer

    sections = []
    hooks = sorted(name for name in dir(hookspecs) if name.startswith("ptm_"))
    registration = [h for h in hooks if h.startswith("ptm_register_")]
    sections.append(Section(
        "1. The contract",
        text=("A plugin is a Python module or object with functions named after the toolkit's hooks, "
              "marked with toolkit.hookimpl (pluggy). Registration hooks add records (models, data, "
              "tasks, trainers, privacy mechanisms, explainers, lessons, commands); lifecycle hooks "
              "observe a run (before, after, on error). The specs live in toolkit/hookspecs.py."),
        numbers={"registration hooks": ", ".join(registration),
                 "lifecycle hooks": f"{len(hooks) - len(registration)} (ptm_before_/ptm_after_/ptm_on_..._error)"},
    ))

    # 2. The plugin: copied out, imported and registered.
    path = copy_plugin(out / "ptm-gradient-shap")
    load_plugin(pm, path)
    spec = pm.registry.get(ExplainerSpec, METHOD)
    sections.append(Section(
        "2. A plugin that adds GradientSHAP",
        text=(f"{path.name} implements one hook, ptm_register_explainers, registering an "
              f"ExplainerSpec '{METHOD}' whose factory builds an object with explain(texts, target=). "
              "It computes scores with Captum's LayerGradientShap and turns them into the toolkit's "
              "Explanation record with explanation_from_scores. Its pyproject.toml declares the "
              "entry point: pip install -e the folder and every ptm command finds it."),
        numbers={"registered by": spec.plugin, "summary": spec.summary, "reference": spec.reference},
    ))

    # 3. Check the contract, as the plugin's own tests would.
    metrics = pipeline.train(pm, model="minilm", data="reviews", out=out / "run", device=device,
                             epochs=1 if quick else 3, max_length=64, progress=progress)
    _, fitter = pipeline.open_run(pm, out / "run", device=device)
    try:
        check_explainer(pm, METHOD, fitter.model, fitter.tokenizer)
        contract = "passed"
    except AssertionError as error:
        contract = f"FAILED: {error}"
    shown = pipeline.explain(pm, out / "run", list(EXAMPLES), method=METHOD, device=device)
    explain_views.save_png(shown, out / "gradient_shap.png")
    sections.append(Section(
        "3. The contract check, and the plugin at work",
        text=("toolkit.testing.check_explainer builds the explainer through the registry and checks "
              "each record: one finite score per token, words that sum their pieces, the model's "
              f"predicted class and probability, an explicit target honoured, empty text refused. "
              f"Then `ptm explain RUN TEXT --method {METHOD}` works like any built-in method "
              f"(the fine-tuned MiniLM scores {metrics['accuracy']:.3f} on the test reviews)."),
        numbers={"contract check": contract,
                 **{e.text: f"{e.target_label} ({e.probability:.2f}); top words {', '.join(e.top_words(3))}"
                    for e in shown}},
        images=(out / "gradient_shap.png",),
        html=explain_views.as_html(shown),
    ))

    # 4. Measured like the built-ins.
    table = pipeline.explain_evaluate(pm, out / "run", data="reviews", methods=("ig", METHOD),
                                      limit=24 if quick else 100, sanity=4 if quick else 16, device=device,
                                      progress=progress)
    rows = {r["method"]: r for r in table["rows"]}
    sections.append(Section(
        "4. Measured like the built-ins",
        text=(f"`ptm explain evaluate RUN --data reviews --methods ig,{METHOD}` on {table['n']} held-out "
              "reviews: comprehensiveness (higher is better), sufficiency (lower is better), AUPRC "
              "against the human rationales, and the rank correlation after re-initialising every "
              "layer (near 0 means the method depends on the model)."),
        numbers={name: method_row(r) for name, r in rows.items()},
    ))

    ours, random_row, ig = rows[METHOD], rows["random"], rows["ig"]
    holds = (contract == "passed" and ours["comprehensiveness"] > random_row["comprehensiveness"]
             and ours["randomized_spearman"] < MAX_RANDOMIZED_SPEARMAN)
    numbers = {
        "contract check": contract,
        f"{METHOD} comprehensiveness": round(ours["comprehensiveness"], 3),
        "ig comprehensiveness": round(ig["comprehensiveness"], 3),
        "random comprehensiveness": round(random_row["comprehensiveness"], 3),
        f"{METHOD} rank correlation after randomising every layer": round(ours["randomized_spearman"], 3),
    }
    claim = (f"A plugin written against the public contract alone adds a method the toolkit did not have: "
             f"'{METHOD}' passes the explainer contract ({contract.split(':')[0]}), and on held-out reviews "
             f"it is faithful (comprehensiveness {ours['comprehensiveness']:.3f} against "
             f"{random_row['comprehensiveness']:.3f} for random scores; IG {ig['comprehensiveness']:.3f}) "
             f"and passes the randomisation check (Spearman {ours['randomized_spearman']:.2f}, below "
             f"{MAX_RANDOMIZED_SPEARMAN}).")
    return LessonResult(claim=claim, holds=holds, numbers=numbers, sections=sections)
