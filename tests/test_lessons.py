"""Lessons: listing, outlines, headless runs with a measured claim and a report."""

from __future__ import annotations

import json
import re

import pytest

from toolkit import hookimpl
from toolkit.errors import PtmError, RegistryError
from toolkit.lessons import LessonResult, run_lesson
from toolkit.registry import Lesson
from toolkit.report import Section


# The smallest PNG there is (1x1, one grey pixel): a lesson's plot, as far as a report cares.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a4944415478da63680000008200816c1b1d2b0000000049454e44ae426082"
)


class CountingLesson:
    """A lesson plugin whose runner measures something trivially true (or not)."""

    def __init__(self, holds=True, result=None):
        self.holds, self.result, self.calls = holds, result, []

    def run(self, pm, *, out, quick, device, progress):
        self.calls.append((out, quick))
        (out / "note.txt").write_text("written by the lesson")
        (out / "counts.png").write_bytes(PNG)
        if self.result is not None:
            return self.result
        # As the built-in lessons do: the image path is built on `out`, whatever form it has.
        return LessonResult(claim="two is more than one", holds=self.holds, numbers={"two": 2},
                            sections=[Section("Counting", text="one, two", images=(out / "counts.png",))])

    @hookimpl
    def ptm_register_lessons(self, register):
        register(Lesson(id="counting", title="Counting", summary="count to two", minutes=1, quick_minutes=0.5,
                        headless_minutes=(0.2, 2),
                        outline=("one", "two"), needs=("model:tiny-bert",), factory=self.run))
        register(Lesson(id="reading", title="Reading only", summary="a notebook without a runner"))
        register(Lesson(id="tally", title="Tally", summary="another lesson with a runner", factory=self.run))


def test_a_lesson_run_writes_its_claim_metrics_and_report(ptm_manager, ptm_register, tmp_path):
    plugin = CountingLesson()
    ptm_register(plugin, name="counting-plugin")
    result = run_lesson(ptm_manager, "counting", out=tmp_path / "run", quick=True)
    assert plugin.calls == [(tmp_path / "run", True)]
    assert result["claim_holds"] is True and result["numbers"] == {"two": 2}
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["status"] == "finished" and saved["claim"] == "two is more than one"
    page = (tmp_path / "run" / "report.html").read_text()
    assert page.index("Counting") < page.index("The claim") and "On this run the claim holds." in page


def test_a_claim_that_fails_is_reported_not_hidden(ptm_manager, ptm_register, ptm_cli, tmp_path):
    ptm_register(CountingLesson(holds=False), name="counting-plugin")
    result = ptm_cli("lesson", "run", "counting", "--out", str(tmp_path / "run"), "--quiet")
    assert result.exit_code == 0, result.output
    assert "claim does NOT hold: two is more than one" in result.output
    assert "On this run the claim does NOT hold." in (tmp_path / "run" / "report.html").read_text()


def test_a_runner_returning_the_wrong_type_fails_the_run(ptm_manager, ptm_register, tmp_path):
    ptm_register(CountingLesson(result={"claim": "x"}), name="counting-plugin")
    with pytest.raises(PtmError, match="lesson 'counting' of plugin 'counting-plugin' returned dict, not a LessonResult"):
        run_lesson(ptm_manager, "counting", out=tmp_path / "run")
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["status"] == "failed"


def test_list_show_and_bad_ids(ptm_manager, ptm_register, ptm_cli, tmp_path):
    ptm_register(CountingLesson(), name="counting-plugin")
    rows = json.loads(ptm_cli("lesson", "list", "--json").stdout)
    by_id = {r["id"]: r for r in rows}
    assert by_id["counting"]["runs_headless"] and not by_id["reading"]["runs_headless"]
    assert by_id["finetuning"]["plugin"] == "ptm_course"
    shown = ptm_cli("lesson", "show", "counting")
    assert shown.exit_code == 0
    assert shown.output.splitlines()[:4] == [
        "Counting (counting, from counting-plugin)", "count to two", "  1. one", "  2. two"]
    assert "time: notebook 0.5m quick, 1m full (measured on a 2-core laptop CPU)" in shown.output
    assert "ptm lesson run 0.2m with --quick, 2m full" in shown.output
    unknown = ptm_cli("lesson", "run", "countin", "--out", str(tmp_path / "x"))
    assert unknown.exit_code == 2 and "lesson 'countin' not found. Did you mean 'counting'?" in unknown.output
    no_runner = ptm_cli("lesson", "run", "reading", "--out", str(tmp_path / "y"))
    assert no_runner.exit_code == 2
    assert no_runner.output == "ptm: lesson 'reading' has no headless runner; open its notebook instead (ptm lesson notebook reading)\n"
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_lessons_are_listed_in_course_order_and_a_plugin_can_slot_in(ptm_register, ptm_cli):
    class Extra:
        @hookimpl
        def ptm_register_lessons(self, register):
            register(Lesson(id="aaa-appendix", title="Appendix", summary="last by default"))
            register(Lesson(id="tokenizers", title="Tokenizers", summary="between", order=15))

    ptm_register(Extra(), name="extra-lessons")
    ids = [r["id"] for r in json.loads(ptm_cli("lesson", "list", "--json").stdout)]
    # The course runs pretraining -> fine-tuning -> privacy -> explanations, not by name;
    # order=15 puts a plugin's lesson between the first two, the default (1000) after them all.
    assert ids[:5] == ["pretraining", "tokenizers", "finetuning", "training-cost", "privacy"]
    assert ids.index("explainability") < ids.index("private-and-explainable") < ids.index("write-a-plugin")
    assert ids[-1] == "aaa-appendix"
    text = ptm_cli("lesson", "list").output.splitlines()
    # A header names the columns; the last line says what the minutes are.
    assert text[0].split() == ["lesson", "quick", "full", "headless", "title"]
    assert "minutes of the notebook, measured on a 2-core laptop CPU" in text[-1]
    assert [line.split()[0] for line in text[1:-1]] == ids
    with pytest.raises(RegistryError, match="order must be an integer"):
        Lesson(id="x", title="X", summary="x", order="first")


@pytest.mark.parametrize("form", ["relative", "dotdot", "symlink", "absolute"])
def test_the_report_embeds_every_image_whatever_the_form_of_out(form, ptm_register, ptm_cli, tmp_path, monkeypatch):
    ptm_register(CountingLesson(), name="counting-plugin")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    out = {"relative": "runs/x", "dotdot": "elsewhere/../runs/x", "symlink": "link",
           "absolute": str(tmp_path / "runs" / "x")}[form]
    if form == "symlink":
        (tmp_path / "target").mkdir()
        (tmp_path / "link").symlink_to(tmp_path / "target")
    result = ptm_cli("lesson", "run", "counting", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    page = (tmp_path / out / "report.html").read_text()
    assert "image not shown" not in page
    assert page.count('<img src="data:image/png;base64,') == 1  # shown in its section, not twice


def test_ptm_report_keeps_a_lessons_sections(ptm_register, ptm_cli, tmp_path, monkeypatch):
    ptm_register(CountingLesson(), name="counting-plugin")
    monkeypatch.chdir(tmp_path)
    assert ptm_cli("lesson", "run", "counting", "--out", "runs/x", "--quiet").exit_code == 0
    first = (tmp_path / "runs/x/report.html").read_text()
    # From another folder, as a student would after cd-ing around: the same page again.
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    rebuilt = ptm_cli("report", "../runs/x")
    assert rebuilt.exit_code == 0, rebuilt.output
    page = (tmp_path / "runs/x/report.html").read_text()
    assert "<h2>Counting</h2>" in page and "On this run the claim holds." in page
    assert "<title>Counting</title>" in page and "image not shown" not in page
    assert page.replace("../runs/x", "runs/x") == first


def test_running_a_lesson_again_replaces_its_own_folder_only(ptm_register, ptm_cli, tmp_path):
    ptm_register(CountingLesson(), name="counting-plugin")
    out = str(tmp_path / "runs" / "counting")
    assert ptm_cli("lesson", "run", "counting", "--out", out, "--quiet").exit_code == 0
    (tmp_path / "runs" / "counting" / "stale.txt").write_text("from the first run")
    again = ptm_cli("lesson", "run", "counting", "--out", out, "--quiet")
    assert again.exit_code == 0, again.output
    assert f"(replaced the earlier run of this lesson in {out})" in again.output
    assert not (tmp_path / "runs" / "counting" / "stale.txt").exists()
    # Another lesson's folder is not this lesson's to replace.
    other = ptm_cli("lesson", "run", "tally", "--out", out, "--quiet")
    assert other.exit_code == 2 and "already exists and is not empty" in other.output
    assert (tmp_path / "runs" / "counting" / "note.txt").is_file()


def _finished_run(folder):
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "config.json").write_text("{}")
    (folder / "config.json").write_text('{"command": "train"}')
    (folder / "metrics.json").write_text('{"status": "finished"}')


def test_a_lesson_folder_stands_for_its_one_model_or_names_its_models(ptm_cli, tmp_path):
    lesson = tmp_path / "lesson"
    lesson.mkdir()
    (lesson / "config.json").write_text('{"command": "lesson", "lesson": "x"}')
    (lesson / "metrics.json").write_text('{"status": "finished"}')
    _finished_run(lesson / "run")
    # One model: the lesson folder opens as it (this fake one has no weights or their record, which is the error).
    one = ptm_cli("predict", str(lesson), "fine")
    assert one.exit_code == 2 and f"run folder {lesson / 'run'} has no checksums.json" in one.output
    _finished_run(lesson / "twin")
    several = ptm_cli("explain", str(lesson), "fine")
    assert several.exit_code == 2
    assert several.output == (f"ptm: {lesson} holds 2 trained runs ({lesson / 'run'}, {lesson / 'twin'}); "
                              "give one of them\n")


def test_an_existing_folder_is_refused(ptm_manager, ptm_register, ptm_cli, tmp_path):
    ptm_register(CountingLesson(), name="counting-plugin")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "mine.txt").write_text("keep")
    result = ptm_cli("lesson", "run", "counting", "--out", str(tmp_path / "run"))
    assert result.exit_code == 2 and "already exists and is not empty" in result.output
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["mine.txt"]


# The other lessons' headless quick runs, with their checks, are in benchmarks/lessons.py: they
# would repeat what the graded solution notebooks (tests/test_docs.py) compute. This one stays:
# it is README's first command.
@pytest.mark.slow
def test_the_finetuning_lesson_runs_quick_and_its_claim_holds(ptm_cli, tmp_path, monkeypatch):
    # As README's first command does: a relative folder, then the lesson's model used by name.
    monkeypatch.chdir(tmp_path)
    result = ptm_cli("lesson", "run", "finetuning", "--quick", "--out", "runs/x", "--quiet")
    assert result.exit_code == 0, result.output
    assert "claim holds: Fine-tuned MiniLM scores at least 0.80" in result.output
    assert "trained model: runs/x/run " in result.output
    out = tmp_path / "runs" / "x"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["claim_holds"] and saved["numbers"]["test accuracy"] >= 0.8
    assert saved["models"] == ["runs/x/run"] and saved["device"] == "cpu"
    page = (out / "report.html").read_text()
    for heading in ("1. The data", "2. Tokenization", "3. Fine-tuning", "4. Held-out scores", "5. What it cost",
                    "6. Predictions, and why"):
        assert heading in page
    # the lesson's training figure and test confusion matrix in its sections, then the trained run's
    # own curves and (dev) confusion matrix under "Runs in this folder", each embedded once; the
    # explanation as coloured words with a legend
    assert "image not shown" not in page
    shown = re.findall(r'<img src="data:image/png;base64,[^"]+" alt="([^"]+)"', page)
    assert sorted(shown) == ["confusion.png", "curves.png", "test-confusion.png", "training.png"]
    assert "pushes towards the label" in page
    assert "<th>device</th><td>cpu</td>" in page and "<td>auto</td>" not in page
    assert ".. With" not in page
    assert ptm_cli("report", "runs/x").exit_code == 0
    assert (out / "report.html").read_text() == page
    predicted = ptm_cli("predict", "runs/x", "A warm, funny and beautifully acted film.")
    assert predicted.exit_code == 0 and predicted.stdout.startswith("positive\t")


def test_one_pass_logit_difference_equals_the_difference_of_two_ig_runs(ptm_manager, tmp_path):
    # The private-and-explainable lesson explains z_pos - z_neg in one Captum pass per review;
    # by linearity it must equal IG(z_pos) - IG(z_neg), with every probability the model's own.
    import numpy as np

    from ptm_course.private_explainable import explain_logit_difference
    from toolkit import pipeline

    pipeline.train(ptm_manager, model="tiny-bert", data="reviews", out=tmp_path / "r", epochs=1,
                   lr=2e-3, progress=False, checkpoint=False)
    texts = ["A warm, funny and beautifully acted film.", "The plot is thin and the jokes fall flat."]
    difference, predicted = explain_logit_difference(ptm_manager, tmp_path / "r", texts, n_steps=16)
    negative, positive = (pipeline.explain(ptm_manager, tmp_path / "r", texts, method="ig", n_steps=16, target=label)
                          for label in ("negative", "positive"))
    for d, own, n, p in zip(difference, predicted, negative, positive):
        assert np.allclose(d.attributions, np.subtract(p.attributions, n.attributions), atol=1e-6)
        assert np.allclose(d.word_attributions, np.subtract(p.word_attributions, n.word_attributions), atol=1e-6)
        assert abs(d.delta - (p.delta - n.delta)) < 1e-5 and d.probability == pytest.approx(p.probability, abs=1e-6)
        # the predicted class's margin: the difference signed towards the class with p >= 0.5
        mine = p if p.probability >= 0.5 else n
        sign = 1 if mine is p else -1
        assert own.target == mine.target and own.probability == pytest.approx(mine.probability, abs=1e-6)
        assert np.allclose(own.attributions, sign * np.asarray(d.attributions))
