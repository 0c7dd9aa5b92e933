"""The `rai-policy` command.  Each subcommand imports what it needs inside its function, so
`--help`, `lint`, `schema` and `explain` never import TensorFlow."""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

from rai_policy.errors import ExitCode, InputError, PolicyError, RaiPolicyError

FORMATS = ("json", "junit", "sarif", "markdown", "html")


class Progress:
    """Timestamped progress lines on stderr (silent with --quiet)."""

    def __init__(self, quiet: bool):
        self.quiet, self.t0 = quiet, time.perf_counter()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:6.1f}s] {message}", file=sys.stderr, flush=True)


def _report_arg(value: str) -> tuple[str, str]:
    fmt, sep, path = value.partition("=")
    if not sep or not path:
        raise argparse.ArgumentTypeError(f"expected FORMAT=PATH, e.g. json=report.json (formats: {', '.join(FORMATS)})")
    if fmt not in FORMATS:
        raise argparse.ArgumentTypeError(f"unknown report format '{fmt}' (formats: {', '.join(FORMATS)})")
    return fmt, path


def _positive(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value}")
    return x


def _join_option_values(argv: list[str], options: tuple[str, ...] = ("--beam-pipeline-args",)) -> list[str]:
    """`--beam-pipeline-args "--runner=X"`: a value that itself starts with '--' would be read by
    argparse as an option; join it to its flag (`--beam-pipeline-args=--runner=X`)."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in options and i + 1 < len(argv):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def _add_subject_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("subject (overrides the policy's `subject:` block)")
    g.add_argument("--data", action="append", metavar="PATH", help="CSV, Parquet or TFRecord of tf.Example (repeat for shards; globs allowed)")
    g.add_argument("--label", metavar="COLUMN", help="label column (0/1, or see --positive-label)")
    g.add_argument("--prediction", metavar="COLUMN", help="score column already in the data (model-agnostic)")
    g.add_argument("--model", metavar="PATH", help="Keras model or SavedModel: rai-policy scores the data with it")
    g.add_argument("--signature", metavar="NAME", help="SavedModel signature to call")
    g.add_argument("--model-card", metavar="PATH", help="Model Card Toolkit JSON")
    g.add_argument("--training", metavar="PATH", help="DP-SGD training record (YAML or JSON)")
    g.add_argument("--membership-data", metavar="PATH",
                   help="per-example losses for membership inference: CSV or .npz with loss, member (1 = training member)")
    g.add_argument("--example-weight", metavar="COLUMN", help="example weight column")
    g.add_argument("--positive-label", metavar="VALUE", help="label value that counts as positive (for non-0/1 labels)")
    g.add_argument("--prediction-type", choices=["probability", "logits"], help="logits: apply a sigmoid first")


def build_parser() -> argparse.ArgumentParser:
    from rai_policy import __version__

    parser = argparse.ArgumentParser(prog="rai-policy", description="Responsible-AI policy as code: check a model and data "
                                     "against a YAML policy with TFMA, TFDV, TF Privacy and Model Card Toolkit.")
    parser.add_argument("--version", action="version", version=f"rai-policy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("check", help="evaluate a policy; exit 0 pass, 1 fail, 2 invalid, 3 not evaluable")
    c.add_argument("policy", help="policy YAML file")
    _add_subject_args(c)
    c.add_argument("--report", action="append", type=_report_arg, default=[], metavar="FORMAT=PATH",
                   help=f"write a report (repeatable); formats: {', '.join(FORMATS)}")
    c.add_argument("--engine", choices=["auto", "local", "tfma"], default="auto",
                   help="slice metrics: in-process path (equal to TFMA) or TFMA itself; auto = local up to 10M rows")
    c.add_argument("--beam-pipeline-args", default="", metavar="ARGS", help="Beam options passed to TFMA unchanged")
    c.add_argument("--max-slices", type=int, default=1000, help="error above this many slices per slicing (default 1000)")
    c.add_argument("--fail-on", choices=["error", "warning"], default="error", help="which severities block (default error)")
    c.add_argument("--baseline", metavar="FILE", help="failures recorded in this baseline do not fail the run")
    c.add_argument("--write-baseline", metavar="FILE", help="record the current failures as the baseline")
    c.add_argument("--cache-dir", metavar="DIR", help="evidence cache directory (default $RAI_POLICY_CACHE_DIR or ~/.cache/rai-policy)")
    c.add_argument("--no-cache", action="store_true", help="compute all evidence afresh and store nothing")
    c.add_argument("--timeout", type=_positive, default=None, metavar="SECONDS", help="give up evidence gathering after this long")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    c.add_argument("-v", "--verbose", action="store_true", help="show every rule's notes, also on passing rules")
    c.add_argument("--no-color", action="store_true", help="plain console output")
    c.add_argument("--debug", action="store_true", help="include tracebacks of tool failures in messages")

    lint = sub.add_parser("lint", help="validate policies without evaluating (no TensorFlow); exit 0 or 2")
    lint.add_argument("policies", nargs="+")
    sub.add_parser("schema", help="print the JSON Schema of the policy language")
    ex = sub.add_parser("explain", help="document a rule kind (or code)")
    ex.add_argument("rule", nargs="?", help="kind or code; omit to list them")
    demo = sub.add_parser("demo", help="train a DP-SGD model on UCI German credit and check the shipped demo policy (offline)")
    demo.add_argument("--workdir", default="rai-policy-demo", help="where the demo writes its files (default ./rai-policy-demo)")
    demo.add_argument("-q", "--quiet", action="store_true")
    demo.add_argument("--engine", choices=["auto", "local", "tfma"], default="tfma",
                      help="slice metrics engine for the demo (default tfma: the real tool)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from rai_policy.evidence import tf_env

    tf_env.quiet()  # settings only: imports nothing heavy
    parser = build_parser()
    args = parser.parse_args(_join_option_values(argv))
    if args.command is None:
        parser.print_help()
        return int(ExitCode.INVALID)
    handler = {"check": cmd_check, "lint": cmd_lint, "schema": cmd_schema, "explain": cmd_explain, "demo": cmd_demo}
    try:
        return handler[args.command](args, argv)
    except PolicyError as exc:
        for p in exc.problems:
            print(f"error: {p}", file=sys.stderr)
        return int(ExitCode.INVALID)
    except RaiPolicyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rai-policy explain x | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, the traceback only on request
        if os.environ.get("RAI_POLICY_DEBUG"):
            raise
        print(f"error: internal error: {type(exc).__name__}: {exc} "
              "(please report it; set RAI_POLICY_DEBUG=1 for the traceback)", file=sys.stderr)
        return int(ExitCode.INVALID)


def cmd_lint(args, argv) -> int:
    from rai_policy.policy.loader import load_policy

    worst = 0
    for path in args.policies:
        try:
            loaded = load_policy(path)
            print(f"ok: {path} ({len(loaded.rules)} rules)")
        except PolicyError as exc:
            for p in exc.problems:
                print(f"error: {p}")
            worst = int(ExitCode.INVALID)
    return worst


def cmd_schema(args, argv) -> int:
    from rai_policy.policy.schema import schema_text

    sys.stdout.write(schema_text())
    return 0


def cmd_explain(args, argv) -> int:
    from rai_policy.rules import docs

    if not args.rule:
        print(docs.listing())
        return 0
    text = docs.explain(args.rule)
    if text is None:
        print(f"error: unknown rule kind or code '{args.rule}'\n\n{docs.listing()}", file=sys.stderr)
        return int(ExitCode.INVALID)
    print(text)
    return 0


def cmd_check(args, argv) -> int:
    from pathlib import Path

    from rai_policy import engine
    from rai_policy.evidence.cache import default_dir as default_cache_dir
    from rai_policy.policy.loader import load_policy
    from rai_policy.subject import resolve

    progress = Progress(args.quiet)
    try:
        loaded = load_policy(args.policy)
    except PolicyError:
        _write_error_reports(args, "invalid policy", argv)
        raise
    _check_outputs(args, loaded)
    subject = resolve(loaded.model.subject, Path(args.policy).resolve().parent, data=tuple(args.data or ()),
                      label=args.label, prediction=args.prediction, model=args.model, signature=args.signature,
                      model_card=args.model_card, training=args.training, membership_data=args.membership_data,
                      example_weight=args.example_weight,
                      positive_label=args.positive_label, prediction_type=args.prediction_type)
    beam_args = shlex.split(args.beam_pipeline_args)
    engine_choice = args.engine
    if beam_args and engine_choice == "auto":
        engine_choice = "tfma"  # Beam options only mean something to TFMA
        progress("--beam-pipeline-args given: slice metrics run on TFMA")
    elif beam_args and engine_choice == "local":
        print("warning: --beam-pipeline-args is ignored with --engine local", file=sys.stderr)
    options = engine.CheckOptions(engine=engine_choice, beam_pipeline_args=beam_args,
                                  max_slices=args.max_slices, progress=progress, debug=args.debug,
                                  cache_dir=None if args.no_cache else (args.cache_dir or str(default_cache_dir())),
                                  fail_on=args.fail_on, baseline=args.baseline, argv=["rai-policy", *argv],
                                  timeout=args.timeout)
    try:
        report = engine.run_check(loaded, subject, options)
    except RaiPolicyError as exc:
        _write_error_reports(args, str(exc), argv)
        raise
    return _emit(report, args)


def _check_outputs(args, loaded) -> None:
    """Refuse, before any work, report paths that would fail late or overwrite an input."""
    from rai_policy.fileio import check_outputs

    outputs = [(f"{fmt} report", path) for fmt, path in args.report]
    if args.write_baseline:
        outputs.append(("baseline", args.write_baseline))
    inputs = [*loaded.files, *(args.data or []), args.model_card, args.training, args.baseline,
              getattr(args, "membership_data", None)]
    check_outputs(outputs, [p for p in inputs if p])


def _emit(report, args) -> int:
    from rai_policy import engine
    from rai_policy.report.renderers import renderer

    color = sys.stdout.isatty() and not args.no_color and "NO_COLOR" not in os.environ
    sys.stdout.write(renderer("console")(report, color=color, verbose=getattr(args, "verbose", False)))
    for fmt, path in args.report:
        _write(path, renderer(fmt)(report), f"{fmt} report")
        print(f"wrote {fmt} report: {path}", file=sys.stderr)
    if fmt_summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        if "markdown" in _available():
            with open(fmt_summary, "a", encoding="utf-8") as f:
                f.write(renderer("markdown")(report))
    if args.write_baseline:
        import json

        _write(args.write_baseline, json.dumps(engine.baseline_document(report), indent=2, sort_keys=True) + "\n",
               "baseline")
        print(f"wrote baseline: {args.write_baseline}", file=sys.stderr)
    return report.exit_code


def _write(path: str, text: str, what: str) -> None:
    from rai_policy.fileio import write_atomic

    try:
        write_atomic(path, text)
    except OSError as exc:
        raise InputError(f"cannot write the {what} {path}: {exc.strerror or exc}") from None


def _available() -> list[str]:
    from rai_policy.report.renderers import formats

    return formats()


def _write_error_reports(args, message: str, argv) -> None:
    """Exit-2 runs still leave a (small) JSON report, so a CI step never reads a stale one."""
    from rai_policy import engine
    from rai_policy.fileio import write_atomic
    from rai_policy.report.renderers import formats, renderer

    from rai_policy.fileio import check_outputs

    try:  # never overwrite an input, even to report that it is broken
        check_outputs([(f"{fmt} report", path) for fmt, path in args.report],
                      [p for p in [args.policy, *(args.data or []), args.model_card, args.training] if p])
    except InputError:
        return
    report = engine.error_report(message, args.policy, ["rai-policy", *argv])
    for fmt, path in args.report:
        if fmt in formats():
            write_atomic(path, renderer(fmt)(report))


def cmd_demo(args, argv) -> int:
    from pathlib import Path

    from rai_policy import demo, engine
    from rai_policy.policy.loader import load_policy
    from rai_policy.subject import resolve

    progress = Progress(args.quiet)
    workdir = Path(args.workdir).resolve()
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the demo folder {args.workdir}: {exc.strerror}") from None
    subject_files = demo.prepare_demo(workdir, progress=progress)
    loaded = load_policy(subject_files.policy)
    subject = resolve(None, workdir, data=(str(subject_files.data),), label=subject_files.label,
                      model=str(subject_files.model), model_card=str(subject_files.model_card),
                      training=str(subject_files.training))
    options = engine.CheckOptions(engine=args.engine, progress=progress, argv=["rai-policy", *argv])
    report = engine.run_check(loaded, subject, options)
    reports = [("json", str(workdir / "report.json"))]
    if "html" in _available():
        reports.append(("html", str(workdir / "report.html")))
    ns = argparse.Namespace(report=reports, no_color=False, write_baseline=None)
    code = _emit(report, ns)
    print(f"\ndemo files and reports in {workdir}\n"
          f"(`rai-policy check` would exit {code} on this verdict; the demo itself exits 0 when it ran, "
          "2 when it could not)", file=sys.stderr)
    return int(ExitCode.OK) if code in (ExitCode.OK, ExitCode.FAILED, ExitCode.NOT_EVALUABLE) else code


if __name__ == "__main__":
    sys.exit(main())
