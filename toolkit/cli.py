"""The ``ptm`` command line, built by :func:`create_cli` from a plugin manager.

Plugins are loaded on demand (the first time a command or the help text needs them), never
at import, and the core imports no torch, transformers, opacus or captum here: commands that
need them import them inside their own bodies.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from toolkit import __version__
from toolkit.errors import PtmError
from toolkit.manager import PtmPluginManager, create_plugin_manager


class PtmUsageError(click.ClickException):
    """A :class:`~toolkit.errors.PtmError` on its way out: one line, exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"ptm: {self.format_message()}", err=True, file=file)


class PtmGroup(click.Group):
    """The root group: owns the plugin manager and lets plugins add commands."""

    def __init__(self, *args: Any, pm_factory: Callable[[], PtmPluginManager], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._pm_factory = pm_factory
        self._pm: PtmPluginManager | None = None

    def plugin_manager(self) -> PtmPluginManager:
        """The plugin manager, created (and plugin commands added) on first use."""
        if self._pm is None:
            with ptm_errors():
                self._pm = self._pm_factory()
                self._pm.hooks.register_commands(self)
        return self._pm

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.plugin_manager()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self.plugin_manager()
            command = super().get_command(ctx, cmd_name)
        return command

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from toolkit.registry import closest

            hint = closest(name, self.list_commands(ctx), n=1)
            suffix = f" Did you mean '{hint[0]}'?" if hint else ""
            raise PtmUsageError(f"no command '{name}'.{suffix} (ptm --help lists them)")
        return super().resolve_command(ctx, args)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        # Usage errors in the root's own options (`ptm --bogus`); the subcommands' go through
        # invoke() below.
        with ptm_errors(debug="--debug" in args):
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        import warnings

        with ptm_errors(debug=bool(ctx.meta.get("ptm.debug"))), warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return super().invoke(ctx)


def _show_warning(message: Any, category: type, filename: str, lineno: int,
                  file: Any = None, line: Any = None) -> None:
    """Our warnings as one line for people; everyone else's as usual."""
    import warnings

    from toolkit.errors import PtmWarning

    if issubclass(category, PtmWarning):
        click.echo(f"ptm: warning: {message}", err=True)
    else:
        click.echo(warnings.formatwarning(message, category, filename, lineno, line), err=True, nl=False)


class ptm_errors:  # noqa: N801 - used as a context manager, reads like a statement
    """Turn a :class:`PtmError` into one line on stderr and exit status 2.

    With ``--debug`` (or ``PTM_DEBUG=1``) the original exception and its traceback go
    through instead.
    """

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug or os.environ.get("PTM_DEBUG", "") not in ("", "0")

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        ctx = click.get_current_context(silent=True)
        debug = self.debug or bool(ctx is not None and ctx.meta.get("ptm.debug"))
        if isinstance(exc, PtmError) and not debug:
            raise PtmUsageError(str(exc)) from exc
        if _is_usage_error(exc) and not debug:
            raise _one_line_usage(exc) from exc
        if isinstance(exc, OSError) and exc.errno in _PLACE_ERRORS and not debug:
            # The safety net for a place the command could not read or write (a folder that is a
            # file, no permission, a full disk): the path and the reason, never a traceback.
            where = exc.filename or "a file"
            raise PtmUsageError(
                f"cannot use {where} ({exc.strerror}); check the path and its permissions, or choose another"
            ) from exc
        if debug and isinstance(exc, PtmUsageError) and not getattr(exc, "_shown", False):
            # --debug: the traceback of a usage error too, then its one line and exit 2.
            import traceback

            exc._shown = True  # type: ignore[attr-defined]
            click.echo("".join(traceback.format_exception(exc)), err=True, nl=False)
        return False


_PLACE_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR,
                 errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ENOENT, errno.ELOOP, errno.EXDEV}


def _is_usage_error(exc: BaseException | None) -> bool:
    """Click's own usage errors (a missing argument, an unknown option, a bad value), not ours
    and not the "no arguments, so here is the help" one."""
    from click.exceptions import NoArgsIsHelpError

    return (isinstance(exc, click.UsageError) and not isinstance(exc, (PtmUsageError, NoArgsIsHelpError)))


def _one_line_usage(exc: click.UsageError) -> PtmUsageError:
    """Click's three lines (Usage, Try, Error) as one: the problem, then where the help is."""
    command = exc.ctx.command_path if exc.ctx is not None else "ptm"
    problem = " ".join(exc.format_message().split()).rstrip(".")
    problem = problem[:1].lower() + problem[1:] if problem[:2] != problem[:2].upper() else problem
    where = command.partition(" ")[2]
    fix = f" see '{command} --help'" if problem.endswith("?") else f"; see '{command} --help'"
    return PtmUsageError(f"{where + ': ' if where else ''}{problem}{fix}")


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta["ptm.debug"] = True


def create_cli(pm: PtmPluginManager | None = None) -> PtmGroup:
    """Build the ``ptm`` command group.

    Args:
        pm: the plugin manager to use; by default one is created from the installed
            plugins the first time a command needs it.
    """

    @click.group(
        cls=PtmGroup,
        pm_factory=(lambda: pm) if pm is not None else create_plugin_manager,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    @click.version_option(__version__, "--version", prog_name="ptm")
    @click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help="Show full tracebacks instead of one-line errors.",
    )
    def ptm() -> None:
        """ptm-toolkit: pretrain, fine-tune, privatise and explain language models.

        Every step is a plugin; `ptm plugins list --all` shows what is installed.
        """

    ptm.add_command(plugins_group)
    for command in (train_command, evaluate_command, predict_command, explain_group, report_command, lesson_group):
        ptm.add_command(command)
    return ptm


def plugin_manager() -> PtmPluginManager:
    """The plugin manager of the running ``ptm`` command."""
    root = click.get_current_context().find_root().command
    assert isinstance(root, PtmGroup)
    return root.plugin_manager()


# -- ptm plugins ------------------------------------------------------------------------------


@click.group("plugins")
def plugins_group() -> None:
    """Inspect installed plugins and the hooks they can implement."""


@plugins_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def plugins_list(show_all: bool, as_json: bool) -> None:
    """List plugins: name, version, status, hooks implemented and ids contributed."""
    pm = plugin_manager()
    with ptm_errors():
        pm.registry  # noqa: B018 - builds the registry, which fills in hooks and ids
    rows = [s for s in pm.statuses.values() if show_all or not s.builtin]
    rows.sort(key=lambda s: (not s.builtin, s.name))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "distribution": s.distribution,
                        "version": s.version,
                        "builtin": s.builtin,
                        "status": s.status,
                        "hooks": s.hooks,
                        "ids": s.ids,
                    }
                    for s in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        click.echo("No third-party plugins installed. `ptm plugins list --all` shows the built-ins.")
        return
    for s in rows:
        origin = "built-in" if s.builtin else (s.distribution or "local")
        click.echo(f"{s.name} {s.version or ''} ({origin}): {s.status}")
        if s.hooks:
            click.echo(f"  hooks: {', '.join(s.hooks)}")
        for kind, ids in sorted(s.ids.items()):
            click.echo(f"  {kind}: {', '.join(ids)}")


@plugins_group.command("new")
@click.argument("name")
@click.option("--dest", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder to create the plugin's folder in.")
def plugins_new(name: str, dest: Path) -> None:
    """Write a plugin package skeleton NAME (e.g. ptm-mydata) that installs and passes its tests."""
    from toolkit.scaffold import new_plugin, plugin_names

    with ptm_errors():
        folder = new_plugin(name, dest)
    names = plugin_names(name)
    click.echo(f"created {folder}: package {names['package']}, dataset {names['dataset']}")
    click.echo(f"next: pip install -e \"{folder}[test]\" && ptm plugins list && pytest {folder}")


@plugins_group.command("hooks")
@click.option("--markdown", is_flag=True, help="Print the full hook reference as Markdown.")
def plugins_hooks(markdown: bool) -> None:
    """List every hook a plugin can implement, with what it is for."""
    from toolkit.reference import hook_reference_markdown, hook_summaries

    if markdown:
        click.echo(hook_reference_markdown(), nl=False)
        return
    for name, summary in hook_summaries():
        click.echo(f"{name:24} {summary}")


# -- ptm train / evaluate / predict -----------------------------------------------------------

_data_columns = [
    click.option("--text-column", default=None, help="Name of the text column of a data file."),
    click.option("--label-column", default=None, help="Name of the label column of a data file."),
]


_pair_option = click.option(
    "--pair", "pairs", multiple=True,
    help="The second text of a sentence pair, once per TEXT in order (tasks with two inputs).",
)


def _option_value(raw: str) -> Any:
    """``16`` -> 16, ``0.01`` -> 0.01, ``true`` -> True, anything else stays a string."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, (int, float, bool)) else raw


def parse_options(values: tuple[str, ...], *, scoped: bool = False) -> dict[str, Any]:
    """``--option NAME=VALUE`` pairs as a dict; with ``scoped`` they read ``METHOD.NAME=VALUE``
    and come back as ``{method: {name: value}}``. Dashes in names become underscores."""
    out: dict[str, Any] = {}
    example = "ig.n_steps=16" if scoped else "n_steps=16"
    for item in values:
        key, sep, raw = item.partition("=")
        method, dot, name = key.strip().rpartition(".") if scoped else ("", "", key.strip())
        name = name.replace("-", "_")
        if not sep or not name or (scoped and not (dot and method)):
            form = "METHOD.NAME=VALUE" if scoped else "NAME=VALUE"
            raise PtmUsageError(f"--option '{item}' is not {form}; write e.g. --option {example}")
        table = out.setdefault(method, {}) if scoped else out
        if name in table:
            raise PtmUsageError(f"--option {method}{dot}{name} is given twice; give it once")
        table[name] = _option_value(raw.strip())
    return out


_option_option = click.option(
    "--option", "extra_options", multiple=True, metavar="NAME=VALUE",
    help="An option of the explainer, by the name it takes (repeat for more; any explainer, a plugin's too).",
)


def _with(options: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def decorate(f: Any) -> Any:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


@click.command("train")
@click.option("--model", default="minilm", show_default=True, help="Model id, folder or Hugging Face id.")
@click.option("--data", default=None, help="Dataset id, .tsv/.csv/.jsonl file or hf:NAME  [default: the task's data; reviews]")
@click.option("--task", default=None, help="Task id the data must be labelled for, e.g. pairs (ptm plugins list --all)  [default: the data's own]")
@click.option("--eval-data", default=None, help="Evaluate on this data instead of a held-out part of --data.")
@click.option("--trainer", default="finetune", show_default=True, help="Trainer id (ptm plugins list --all).")
@click.option("--epochs", type=int, default=None, help="Passes over the data  [default: 1; 10 with --privacy]")
@click.option("--batch-size", type=int, default=None, help="[default: 8; 256 with --privacy]")
@click.option("--lr", type=float, default=None, help="Peak learning rate (AdamW)  [default: 1e-4; 1e-2 with --privacy]")
@click.option("--max-length", type=int, default=None, help="Tokens kept per text  [default: 128; 64 with --privacy]")
@click.option("--trainable", default=None, help="Parameters to train: all, head, topN (e.g. top2) or lora  [default: all; lora with --privacy]")
@click.option("--limit", type=int, default=None, help="Train on at most N examples (a seeded sample).")
@click.option("--seed", type=int, default=None, help="[default: 42]")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--privacy", default=None, help="Train with a privacy mechanism, e.g. dp-sgd.")
@click.option("--epsilon", type=float, default=None, help="Privacy budget epsilon for the whole run (with --privacy); inf for none.")
@click.option("--delta", type=float, default=None, help="Privacy delta  [default: 1/N for N training examples]")
@click.option("--max-grad-norm", type=float, default=None, help="Per-example gradient clipping norm  [default: 1.0]")
@click.option("--accountant", type=click.Choice(["rdp", "prv", "gdp"]), default=None, help="Privacy accountant  [default: rdp]")
@click.option("--grad-sample-mode", type=click.Choice(["auto", "hooks", "functorch", "ghost"]), default=None, help="Opacus per-example gradient engine  [default: auto: ghost clipping when over 5M parameters train, else hooks]")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run folder to create.")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--resume", type=click.Path(path_type=Path), default=None, help="Continue an interrupted run folder from its last epoch, with its own settings.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@_with(_data_columns)
def train_command(model: str, data: str | None, task: str | None, eval_data: str | None, trainer: str,
                  epochs: int | None,
                  batch_size: int | None, lr: float | None, max_length: int | None,
                  trainable: str | None, limit: int | None, seed: int | None, device: str,
                  privacy: str | None, epsilon: float | None, delta: float | None,
                  max_grad_norm: float | None, accountant: str | None,
                  grad_sample_mode: str | None, out: Path | None, overwrite: bool, resume: Path | None,
                  quiet: bool, text_column: str | None, label_column: str | None) -> None:
    """Fine-tune a model on labelled text and write a run folder.

    With --privacy dp-sgd --epsilon E the run is (epsilon, delta)-differentially private.
    Ctrl-C stops after the current step and keeps the last epoch's checkpoint;
    --resume RUN_DIR continues from it.
    """
    from toolkit import pipeline

    pm = plugin_manager()
    ctx = click.get_current_context()
    if resume is not None:
        given = [f"--{name.replace('_', '-')}" for name in ctx.params
                 if name not in ("resume", "quiet", "device")
                 and ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
        if given:
            raise PtmUsageError(f"--resume takes the run's own settings; drop {', '.join(given)}")
        out = resume
    elif out is None:
        raise PtmUsageError("give --out RUN_DIR for the new run (or --resume RUN_DIR to continue one)")
    if privacy is not None and epsilon is None:
        raise PtmUsageError(f"--privacy {privacy} needs a budget: add --epsilon (e.g. --epsilon 8)")
    try:
        with ptm_errors():
            if resume is not None:
                metrics = pipeline.resume(pm, resume, device=device, progress=not quiet)
                privacy = metrics.get("mechanism") if "epsilon" in metrics else None
            else:
                metrics = pipeline.train(
                    pm, model=model, data=data, out=out, overwrite=overwrite, eval_data=eval_data,
                    text_column=text_column, label_column=label_column, limit=limit, device=device,
                    privacy=privacy, task=task, trainer=trainer,
                    privacy_options={
                        "epsilon": epsilon, "delta": delta, "max_grad_norm": max_grad_norm,
                        "accountant": accountant, "grad_sample_mode": grad_sample_mode,
                    },
                    epochs=epochs, batch_size=batch_size, lr=lr, max_length=max_length, seed=seed,
                    trainable=trainable, progress=not quiet,
                )
    except KeyboardInterrupt:
        _report_interrupt(out)
        ctx.exit(130)
    from toolkit import distributed

    if not distributed.is_main():
        return  # rank 0 of a torchrun launch reports for all
    final = metrics["final"]
    click.echo(
        f"accuracy {final['accuracy']:.3f}  macro-F1 {final['f1']:.3f}  (n={final['n']} held out)\n"
        f"{metrics['train_examples']} examples, {metrics['steps']} steps, "
        f"{metrics['examples_per_second']:.1f} examples/s, {metrics['train_seconds']:.1f} s "
        f"on {metrics['device']}" + (f" x {metrics['world_size']} processes" if metrics.get("world_size", 1) > 1 else "")
    )
    if privacy is not None:
        # A mechanism must report epsilon and delta; the rest is DP-SGD's and may be absent.
        details = [f"{label} {metrics[key]:{spec}}" for key, label, spec in (
            ("noise_multiplier", "noise multiplier", ".3f"), ("sample_rate", "sample rate", ".4f"))
            if isinstance(metrics.get(key), (int, float))]
        details.append(f"{metrics['steps']} steps")
        if metrics.get("accountant"):
            details.append(f"{metrics['accountant']} accountant")
        click.echo(
            f"privacy: ({metrics['epsilon']:.2f}, {metrics['delta']:.2g})-DP by {privacy} "
            f"({', '.join(details)})"
        )
    click.echo(f"run folder: {out}")


def _report_interrupt(out: Path) -> None:
    """Say what an interrupted training run kept, and how to continue it."""
    from toolkit.runs import RunFolder

    try:
        metrics = RunFolder(out).read_json("metrics.json", missing={})
    except PtmError:
        metrics = {}
    epoch = metrics.get("checkpoint_epoch") if isinstance(metrics, dict) else None
    if epoch is None:
        click.echo(f"ptm: interrupted before the first epoch ended; nothing to resume in {out}", err=True)
        return
    click.echo(
        f"ptm: interrupted; {out} keeps the checkpoint of epoch {epoch}: continue with "
        f"ptm train --resume {out}",
        err=True,
    )


@click.command("evaluate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data", required=True, help="Dataset id, .tsv/.csv/.jsonl file or hf:NAME.")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@_with(_data_columns)
def evaluate_command(run_dir: Path, data: str, device: str, as_json: bool,
                     text_column: str | None, label_column: str | None) -> None:
    """Score a trained run on labelled data: accuracy, macro-F1, n."""
    from toolkit import pipeline

    with ptm_errors():
        scores = pipeline.evaluate(
            plugin_manager(), run_dir, data=data, text_column=text_column,
            label_column=label_column, device=device,
        )
    if as_json:
        click.echo(json.dumps(scores))
    else:
        click.echo(f"accuracy {scores['accuracy']:.3f}  macro-F1 {scores['f1']:.3f}  n {scores['n']}")


@click.command("predict")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("texts", nargs=-1, required=True)
@_with([_pair_option])
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def predict_command(run_dir: Path, texts: tuple[str, ...], pairs: tuple[str, ...], device: str,
                    as_json: bool) -> None:
    """Label each TEXT with a trained run, with the label's probability."""
    from toolkit import pipeline

    with ptm_errors():
        rows = pipeline.predict(plugin_manager(), run_dir, texts, text_pairs=pairs or None, device=device)
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        pair = f"\t{row['text_pair']}" if "text_pair" in row else ""
        click.echo(f"{row['label']}\t{row['probability']:.3f}\t{row['text']}{pair}")


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--title", default=None, help="Page title  [default: from the run's command]")
def report_command(run_dir: Path, title: str | None) -> None:
    """Write RUN_DIR/report.html: one self-contained page with the run's numbers and plots."""
    from toolkit.report import write_report

    with ptm_errors():
        path = write_report(run_dir, title=title)
    click.echo(f"report: {path}")


# -- ptm lesson -------------------------------------------------------------------------------


@click.group("lesson")
def lesson_group() -> None:
    """The course: list the lessons, read one's outline, run it headless, write and grade notebooks."""


@lesson_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def lesson_list_command(as_json: bool) -> None:
    """Every installed lesson, in course order: id, minutes, whether it runs headless, title."""
    from toolkit.lessons import course_order
    from toolkit.registry import Lesson

    lessons = course_order(plugin_manager().registry.records(Lesson))
    rows = [
        {"id": l.id, "title": l.title, "minutes": l.minutes, "quick_minutes": l.quick_minutes,
         "headless_minutes": list(l.headless_minutes),
         "runs_headless": l.factory is not None, "notebook": l.notebook, "plugin": l.plugin, "order": l.order}
        for l in lessons
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    width = max([len(row["id"]) for row in rows] + [6])
    click.echo(f"{'lesson':<{width}}  {'quick':>5}  {'full':>5}  headless  title")
    for row in rows:
        click.echo(f"{row['id']:<{width}}  {_minutes(row['quick_minutes']):>5}  {_minutes(row['minutes']):>5}  "
                   f"{'yes' if row['runs_headless'] else 'no':<8}  {row['title']}")
    click.echo("minutes of the notebook, measured on a 2-core laptop CPU: quick is its default (QUICK = True); "
               "ptm lesson show ID gives the headless run's")


def _minutes(value: float) -> str:
    if not value:
        return "-"
    return f"{value:.0f}m" if value >= 10 else f"{value:.1f}m".replace(".0m", "m")


@lesson_group.command("show")
@click.argument("lesson_id")
def lesson_show_command(lesson_id: str) -> None:
    """A lesson's outline, duration and what it needs."""
    from toolkit.lessons import get_lesson

    with ptm_errors():
        lesson = get_lesson(plugin_manager(), lesson_id)
    click.echo(f"{lesson.title} ({lesson.id}, from {lesson.plugin})")
    if lesson.summary:
        click.echo(lesson.summary)
    for number, step in enumerate(lesson.outline, start=1):
        click.echo(f"  {number}. {step}")
    if lesson.needs:
        click.echo(f"needs: {', '.join(lesson.needs)}")
    times = [f"{_minutes(lesson.quick_minutes)} quick"] if lesson.quick_minutes else []
    if lesson.minutes:
        times.append(f"{_minutes(lesson.minutes)} full")
    if times:
        click.echo(f"time: notebook {', '.join(times)} (measured on a 2-core laptop CPU)")
    if len(lesson.headless_minutes) == 2:
        quick, full = lesson.headless_minutes
        click.echo(f"      ptm lesson run {_minutes(quick)} with --quick, {_minutes(full)} full")
    if lesson.factory:
        click.echo(f"run: ptm lesson run {lesson.id} --quick   (full: ptm lesson run {lesson.id})")
    else:
        click.echo("no headless runner")
    if lesson.notebook:
        click.echo(f"notebook: ptm lesson notebook {lesson.id} --dest DIR   (instructors: --solutions)")
        with ptm_errors():
            questions = _questions(lesson)
        if questions:
            click.echo(f"graded: {len(questions)} questions, {sum(questions.values()):g} points "
                       f"({', '.join(questions)}); ptm lesson grade NOTEBOOK")


def _questions(lesson: Any) -> dict[str, float]:
    """A lesson notebook's graded questions and their points (none for a plain notebook)."""
    from toolkit.grading import assign, is_assign_source
    from toolkit.lessons import notebook_path

    source = notebook_path(lesson)
    return assign(source).points if is_assign_source(source) else {}


@lesson_group.command("run")
@click.argument("lesson_id")
@click.option("--quick", is_flag=True, help="Fewer epochs and steps: the same story in about a minute.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Run folder  [default: runs/ID or runs/ID-quick]")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@click.option("--device", default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def lesson_run_command(lesson_id: str, quick: bool, out: Path | None, overwrite: bool, device: str, quiet: bool) -> None:
    """Run a lesson's steps, print its key results and write a run folder with report.html."""
    from toolkit.lessons import run_lesson

    if out is None:
        from toolkit.runs import child

        with ptm_errors():
            out = child("runs", f"{lesson_id}-quick" if quick else lesson_id)
    with ptm_errors():
        result = run_lesson(plugin_manager(), lesson_id, out=out, quick=quick, overwrite=overwrite,
                            device=device, progress=not quiet)
    for name, value in result["numbers"].items():
        click.echo(f"{name}: {value}")
    click.echo(f"claim {'holds' if result['claim_holds'] else 'does NOT hold'}: {result['claim']}")
    if result.get("replaced"):
        click.echo(f"(replaced the earlier run of this lesson in {out})")
    for model in result.get("models", []):
        click.echo(f'trained model: {model}  (ptm predict {model} "some text"; ptm explain {model} "some text")')
    click.echo(f"report: {out / 'report.html'}")


@lesson_group.command("notebook")
@click.argument("lesson_id")
@click.option("--dest", type=click.Path(path_type=Path), default=Path("."), show_default=True, help="Folder to write the notebook into.")
@click.option("--solutions", is_flag=True, help="The solution notebook (for instructors) instead of the student's.")
@click.option("--overwrite", is_flag=True, help="Replace a copy already there.")
def lesson_notebook_command(lesson_id: str, dest: Path, solutions: bool, overwrite: bool) -> None:
    """Write a lesson's notebook for a student (exercises blank) or, with --solutions, an instructor."""
    from toolkit.lessons import copy_notebook

    with ptm_errors():
        path = copy_notebook(plugin_manager(), lesson_id, dest, overwrite=overwrite, solutions=solutions)
    click.echo(f"{'solution' if solutions else 'student'} notebook: {path}  (open it with: jupyter lab {path}; "
               f"grade it with: ptm lesson grade {path})")


@lesson_group.command("grade")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--timeout", type=click.FloatRange(min=1), default=900, show_default=True,
              help="Seconds one notebook may run before it is stopped and graded as it stands.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Notebooks graded at once.")
@click.option("--executed", type=click.Path(path_type=Path), default=None,
              help="Folder to save each executed notebook in (to read its outputs).")
def lesson_grade_command(path: Path, as_json: bool, timeout: float, jobs: int, executed: Path | None) -> None:
    """Grade a submitted notebook, or every notebook in a folder (writing grades.csv there).

    Each notebook runs in quick mode, offline, on the CPU, in a process of its own; every
    exercise is passed, failed (with the reason) or not attempted. Exit status 0 only when
    every exercise of every notebook passed, 1 otherwise, 2 for bad input.
    """
    from toolkit.grading import NOT_ATTEMPTED, PASSED, find_notebooks, grade, write_grades_csv

    with ptm_errors():
        find_notebooks(path)
        if executed is not None and executed.exists() and not executed.is_dir():
            from toolkit.errors import ConfigError

            raise ConfigError(f"--executed {executed} is a file; give a folder")
        grades = grade(plugin_manager(), path, timeout=timeout, jobs=jobs, executed_dir=executed)
        csv_path = path / "grades.csv" if path.is_dir() else None
        if csv_path is not None:
            write_grades_csv(grades, csv_path)
    all_passed = all(g.full_marks for g in grades)
    if as_json:
        click.echo(json.dumps({"notebooks": [g.to_json() for g in grades], "all_passed": all_passed,
                               "grades_csv": str(csv_path) if csv_path else None}))
    else:
        for g in grades:
            lesson = f"lesson {g.lesson}" if g.lesson else "no lesson"
            click.echo(f"{g.path.name} ({lesson}): {g.score:g}/{g.points:g} points"
                       + (f" - {g.error}" if g.error else ""))
            width = max([len(q.name) for q in g.questions] + [8])
            for q in g.questions:
                mark = {PASSED: "passed", NOT_ATTEMPTED: "not attempted"}.get(q.status, "FAILED")
                reason = f"  {q.reason}" if q.reason and q.reason != g.error else ""
                click.echo(f"  {mark:<13}  {q.name:<{width}}  {q.score:g}/{q.points:g}{reason}")
        if len(grades) > 1:
            click.echo(f"{sum(g.full_marks for g in grades)} of {len(grades)} notebooks with full marks")
        if csv_path is not None:
            click.echo(f"grades: {csv_path}")
    if not all_passed:
        raise SystemExit(1)


# -- ptm explain ------------------------------------------------------------------------------


class DefaultCommandGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to a default command.

    So ``ptm explain RUN_DIR TEXT...`` and ``ptm explain evaluate RUN_DIR`` both work.
    """

    def __init__(self, *args: Any, default_command: str, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.default_command = default_command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def _write_new(path: Path, data: str, overwrite: bool) -> None:
    """Write a file atomically; refuse to replace one unless asked."""
    from toolkit.runs import write_text_atomic

    if path.exists() and not overwrite:
        raise PtmUsageError(f"{path} exists; choose another --output or pass --overwrite")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PtmUsageError(f"cannot write --output {path} ({error.filename}: {error.strerror}); "
                            "choose a place you can write") from None
    with ptm_errors():
        write_text_atomic(path, data)


@click.group("explain", cls=DefaultCommandGroup, default_command="text")
def explain_group() -> None:
    """Explain predictions: `ptm explain RUN_DIR TEXT...` (attributions per word), or
    `ptm explain evaluate RUN_DIR --data D` (faithfulness of several methods)."""


@explain_group.command("text")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("texts", nargs=-1, required=True)
@click.option("--method", default="ig", show_default=True, help="Explainer id (ptm plugins list --all).")
@click.option("--target", default=None, help="Class to explain, as index or label  [default: the predicted one]")
@click.option("--n-steps", type=int, default=None, help="Integrated-gradients steps  [default: 50; from 8, raised 1.5x, with --delta-tolerance]")
@click.option("--delta-tolerance", type=float, default=None, help="Raise the steps per sentence until |convergence delta| is below this.")
@click.option("--baseline", type=click.Choice(["pad", "mask", "zero"]), default=None, help="What a token is compared with  [default: pad]")
@click.option("--n-samples", type=int, default=None, help="Coalitions sampled by kernel-shap  [default: 200]")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "html", "png"]), default="text", show_default=True)
@click.option("--level", type=click.Choice(["word", "token"]), default="word", show_default=True, help="Words or WordPiece tokens (html, png).")
@click.option("--output", type=click.Path(path_type=Path), default=None, help="Write to this file (needed for png).")
@click.option("--overwrite", is_flag=True, help="Replace --output if it exists.")
@click.option("--device", default="auto", show_default=True)
@_with([_pair_option, _option_option])
def explain_text(run_dir: Path, texts: tuple[str, ...], method: str, target: str | None,
                 n_steps: int | None, delta_tolerance: float | None, baseline: str | None,
                 n_samples: int | None, fmt: str, level: str, output: Path | None,
                 overwrite: bool, device: str, pairs: tuple[str, ...],
                 extra_options: tuple[str, ...]) -> None:
    """Attribute a trained run's prediction for each TEXT to its words."""
    from toolkit import explain_views, pipeline

    if fmt == "png" and output is None:
        raise PtmUsageError("--format png needs --output FILE.png")
    if output is not None and output.exists() and not overwrite:
        raise PtmUsageError(f"{output} exists; choose another --output or pass --overwrite")
    if output is not None and (output.is_dir() or any(p.exists() and not p.is_dir() for p in output.parents)):
        raise PtmUsageError(f"--output {output} cannot be a file there (a folder, or under a file); choose a file name in a folder")
    options = {"n_steps": n_steps, "delta_tolerance": delta_tolerance, "baseline": baseline,
               "n_samples": n_samples}
    for name, value in parse_options(extra_options).items():
        if options.get(name) is not None:
            raise PtmUsageError(f"{name} is given both as --{name.replace('_', '-')} and as --option; give it once")
        options[name] = value
    with ptm_errors():
        explanations = pipeline.explain(plugin_manager(), run_dir, texts, method=method,
                                        target=target, text_pairs=pairs or None, device=device,
                                        **options)
        if fmt == "png":
            assert output is not None
            tmp = output.with_name(f".{output.stem}.tmp.png")
            explain_views.save_png(explanations, tmp, level=level)
            tmp.replace(output)  # whole or not at all
            click.echo(f"wrote {output}", err=True)
            return
        if fmt == "json":
            text = json.dumps([e.to_dict() for e in explanations], indent=1) + "\n"
        elif fmt == "html":
            text = explain_views.as_html(explanations, level=level)
        else:
            color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            text = explain_views.as_text(explanations, color=color) + "\n"
            if output is None:
                text += "\n" + explain_views.text_legend(color=color) + "\n"
    if delta_tolerance is not None:
        steps = {e.options.get("n_steps") for e in explanations} - {None}
        if steps:
            summary = ", ".join(
                f"{n} steps: {sum(e.options.get('n_steps') == n for e in explanations)}" for n in sorted(steps)
            )
            click.echo(f"{method}: {summary} (|delta| < {delta_tolerance})", err=True)
    if output is None:
        click.echo(text, nl=False)
    else:
        _write_new(output, text, overwrite)
        click.echo(f"wrote {output}", err=True)


@explain_group.command("evaluate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--data", required=True, help="Dataset id or file; its rationales, if any, score plausibility.")
@click.option("--methods", default="ig,saliency,input-x-gradient,occlusion", show_default=True, help="Comma-separated explainer ids.")
@click.option("--limit", type=int, default=100, show_default=True, help="Sentences of the evaluation split to explain.")
@click.option("--sanity", type=int, default=16, show_default=True, help="Sentences for the model-randomisation check (0: skip).")
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--option", "extra_options", multiple=True, metavar="METHOD.NAME=VALUE",
    help="An option of one method's explainer, e.g. ig.n_steps=16 or occlusion.baseline=mask (repeat for more).",
)
@_with(_data_columns)
def explain_evaluate(run_dir: Path, data: str, methods: str, limit: int, sanity: int, device: str,
                     as_json: bool, quiet: bool, extra_options: tuple[str, ...], text_column: str | None,
                     label_column: str | None) -> None:
    """Compare explainers: ERASER comprehensiveness/sufficiency against random attributions,
    agreement with human rationales, and the model-randomisation sanity check."""
    from toolkit import pipeline

    names = [m.strip() for m in methods.split(",") if m.strip()]
    repeated = sorted({m for m in names if names.count(m) > 1})
    if repeated:
        raise PtmUsageError(f"--methods lists {', '.join(repeated)} twice; give each method once")
    if not names:
        raise PtmUsageError("--methods names no method; give e.g. --methods ig,occlusion")
    options = parse_options(extra_options, scoped=True)
    with ptm_errors():
        result = pipeline.explain_evaluate(
            plugin_manager(), run_dir, data=data, methods=names, limit=limit, sanity=sanity,
            device=device, text_column=text_column, label_column=label_column, options=options,
            progress=not quiet,
        )
    if as_json:
        click.echo(json.dumps(result))
        return
    columns = [("method", "{}"), ("comprehensiveness", "{:.3f}"), ("sufficiency", "{:.3f}"),
               ("plausibility_auprc", "{:.3f}"), ("plausibility_token_f1", "{:.3f}"),
               ("randomized_spearman", "{:.3f}"), ("seconds_per_sentence", "{:.3f}")]
    present = [(k, f) for k, f in columns if any(r.get(k) is not None for r in result["rows"])]
    click.echo("  ".join(f"{k:>{max(len(k), 10)}}" for k, _ in present))
    for row in result["rows"]:
        cells = [f.format(row[k]) if row.get(k) is not None else "-" for k, f in present]
        click.echo("  ".join(f"{c:>{max(len(k), 10)}}" for c, (k, _) in zip(cells, present)))
    click.echo(f"n {result['n']} sentences of {data}; comprehensiveness: higher is better; "
               "sufficiency: lower; randomized_spearman: near 0 is what a faithful method shows")


def __getattr__(name: str) -> Any:
    """``toolkit.cli.cli``: the whole ``ptm`` command, built with the installed plugins (for
    documentation tools such as mkdocs-click; the console script builds its own)."""
    if name == "cli":
        group = create_cli()
        group.plugin_manager()  # adds the plugins' commands now, not on first listing
        return group
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point for ``ptm``."""
    create_cli().main(args=argv, prog_name="ptm")


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
