"""report.html: what it shows for a real tiny-bert run, what it survives, and how Chromium renders it."""

from __future__ import annotations

import io
import json
import re
import shutil

import pytest

from toolkit import pipeline
from toolkit.errors import ConfigError
from toolkit.report import Section, write_report

from test_train import _learnable_file

FAST = dict(epochs=1, batch_size=32, max_length=32, progress=False)
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def trained_run(ptm_manager, tmp_path):
    out = tmp_path / "run"
    metrics = pipeline.train(ptm_manager, model="tiny-bert", data=str(_learnable_file(tmp_path, n=160)), out=out, **FAST)
    return out, metrics


def _resource_urls(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']?\s*(https?:[^"'\s>]*)""", page, re.I)


def test_report_of_a_training_run_shows_its_numbers_plots_and_escapes_text(trained_run):
    out, metrics = trained_run
    note = Section("What we did", text=f"We trained {HOSTILE} once.", numbers={"seed": 42})
    path = write_report(out, title="Lesson 1 & friends", sections=[note])

    assert path == out / "report.html"
    page = path.read_text(encoding="utf-8")
    assert "<title>Lesson 1 &amp; friends</title>" in page
    assert f"{metrics['accuracy']:.3f}" in page
    assert "<h2>Per-epoch history</h2>" in page
    assert re.search(r"<th>epoch</th>.*<th>train_loss</th>", page)
    assert "<h2>Confusion matrix</h2>" in page and "<th>predicted pos</th>" in page
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{100,}" alt="curves.png">', page)
    assert "<figcaption>curves.png</figcaption>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and HOSTILE not in page
    assert "<script" not in page.lower()
    assert _resource_urls(page) == []
    assert page.index("What we did") < page.index("Headline") < page.index("Cost")
    assert not list(out.glob(".report.html.*"))


def test_folder_with_only_a_config_renders(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"command": "train", "model": f"x{HOSTILE}"}))
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert "no metrics.json" in page
    assert f"x{HOSTILE}" not in page and "x&lt;script&gt;" in page
    assert "Headline" not in page


def test_odd_and_corrupt_files_do_not_break_it(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"command": "train", "model": ["odd"], "hyper": "junk"}))
    (tmp_path / "metrics.json").write_text(json.dumps({
        "status": "finished", "accuracy": "high", "history": [{"epoch": 1, "loss": None}, "junk"],
        "final": {"confusion_matrix": [[1, 2], [3]]}, "epsilon": None, "train_seconds": [1],
    }))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    (tmp_path / "expl.json").write_text(json.dumps([{"word_attributions": "x"}]))
    page = write_report(tmp_path, sections=[Section("Extra", images=("nowhere.png",))]).read_text()
    assert "<h2>Per-epoch history</h2>" in page
    assert "Confusion matrix" not in page and "Privacy budget" not in page
    assert "image not shown: nowhere.png" in page


def test_saved_sections_are_rebuilt_but_never_reach_outside_the_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"command": "lesson"}))
    (run / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n one of ours")
    (tmp_path / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\n someone else's")
    write_report(run, title="A lesson", sections=[Section("Story", text="told once", images=(run / "plot.png",))])
    assert write_report(run).read_text() == write_report(run, sections=None).read_text()
    page = (run / "report.html").read_text()
    assert "<h2>Story</h2>" in page and "<title>A lesson</title>" in page and "image not shown" not in page
    # A shared folder's record naming files outside it: left out, not embedded.
    record = json.loads((run / "report.json").read_text())
    assert record["sections"][0]["images"] == ["plot.png"]
    record["sections"][0]["images"] += [str(tmp_path / "secret.png"), "../secret.png"]
    (run / "report.json").write_text(json.dumps(record))
    page = write_report(run).read_text()
    assert "someone else" not in page and page.count("<img ") == 1
    import base64
    assert base64.b64encode(b"\x89PNG\r\n\x1a\n someone else's").decode() not in page


def test_dp_run_gets_a_privacy_section_and_sub_runs_are_summarised(tmp_path):
    dp = {
        "status": "finished", "accuracy": 0.81, "epsilon": 8.0, "delta": 5e-4, "noise_multiplier": 0.73,
        "sample_rate": 0.0667, "steps": 45, "accountant": "rdp", "max_grad_norm": 1.0,
    }
    (tmp_path / "metrics.json").write_text(json.dumps(dp))
    sub = tmp_path / "eps-inf"
    sub.mkdir()
    (sub / "metrics.json").write_text(json.dumps({"status": "finished", "accuracy": 0.93, "epsilon": float("inf")}))
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert "<h2>Privacy budget</h2>" in page
    assert "(8.00, 5e-4)-DP" in page and "RDP accountant" in page and "after 45 noisy steps" in page
    assert "noise multiplier" in page and "0.730" in page
    assert "<h2>Runs in this folder</h2>" in page and "<h3>eps-inf</h3>" in page and "0.930" in page


def test_missing_folder_or_a_file_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        write_report(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        write_report(tmp_path / "file")
    (tmp_path / "config.json").write_text(json.dumps({"command": "train"}))
    write_report(tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        write_report(tmp_path, overwrite=False)


@pytest.mark.parametrize("files, message", [
    ({}, "is not a ptm run folder (no config.json or metrics.json from ptm)"),
    ({"notes.txt": "mine"}, "is not a ptm run folder"),
    ({"config.json": '{"model_type": "bert"}'}, "is not a ptm run folder"),  # a model folder
    ({"config.json": "[1, 2]"}, "config.json holds a JSON list, not the object ptm writes"),
    ({"config.json": '"x"', "metrics.json": '{"status": "finished"}'}, "config.json holds a JSON string"),
    ({"config.json": '{"command": "train"}', "metrics.json": "{not json"}, "metrics.json is corrupt (not JSON)"),
])
def test_a_folder_that_is_not_a_run_is_refused_before_anything_is_written(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        write_report(tmp_path, sections=[Section("Story", text="told")])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.mark.slow
@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Chromium and its driver: apt-get install chromium chromium-driver",
)
def test_report_renders_in_headless_chromium_without_console_errors(trained_run):
    import numpy as np
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    out, _ = trained_run
    path = write_report(out, sections=[Section("Notes", text=HOSTILE, numbers={"lr": 2e-3})])

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=1200,1600", "--hide-scrollbars", "--no-first-run", "--no-default-browser-check",
        # No traffic of the browser's own: the page is the only thing under test.
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--disable-client-side-phishing-detection",
        "--metrics-recording-only", "--disable-features=Translate,OptimizationHints,MediaRouter",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.get(path.as_uri())
        assert driver.title == out.name
        loaded = driver.execute_script(
            "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
        )
        assert loaded and all(loaded), "an embedded image did not decode"
        shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        # The log check above is only worth something if errors do reach it.
        driver.execute_script("console.error('probe')")
        assert any("probe" in e["message"] for e in driver.get_log("browser"))
    finally:
        driver.quit()

    pixels = np.asarray(shot).reshape(-1, 3)
    non_white = float((pixels.min(axis=1) < 240).mean())
    assert len(np.unique(pixels, axis=0)) > 10, "the screenshot is one flat colour"
    assert non_white > 0.03, f"only {non_white:.1%} of the screenshot is not white"
