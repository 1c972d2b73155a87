"""The archspec command line: a thin skin over the Python API.

Commands that need no model (validate, schema, ops, graph) never import MindSpore, so they
answer instantly; the others set up the CPU ISA fix before MindSpore is first imported.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from archspec import __version__
from archspec.errors import Location, SpecError, SpecErrors

app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False,
    help="archspec: write a vision model once as a YAML spec; validate, build, compile, export and profile it "
         "with MindSpore.",
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # one line per error, so file:line:col stays greppable
_state = {"debug": False}

SetOpt = typer.Option(None, "--set", "-s", metavar="NAME=VALUE", help="Override a spec param (repeatable).")
ShapeOpt = typer.Option(None, "--input-shape", metavar="N,C,H,W", help="Override the input shape (NAME=N,C,H,W when the spec has several inputs).")
OutsideOpt = typer.Option(False, "--allow-outside-imports", help="Allow imports/extends outside the spec's folder.")
# The oneDNN ISA fix (archspec.runtime.isa); shared by the commands that run a model.
NoIsaFixOpt = typer.Option(False, "--no-isa-fix", help="Keep oneDNN's own CPU ISA choice (by default archspec sets ONEDNN_MAX_CPU_ISA=AVX2 on AVX-512 CPUs, avoiding a slow reference convolution; same as ARCHSPEC_NO_ISA_FIX=1).")
# Checkpoints (archspec.runtime.weights.load_weights); shared by the commands that run a model.
WeightsOpt = typer.Option(None, "--weights", metavar="CKPT", help="Load a MindSpore checkpoint (.ckpt) by parameter name; strict unless --allow-partial.")
AllowPartialOpt = typer.Option(False, "--allow-partial", help="With --weights: load the parameters that fit, keep the others as initialized and list them (e.g. for a new number of classes).")


def _version(value: bool) -> None:
    if value:
        out.print(f"archspec {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks for errors."),
) -> None:
    _state["debug"] = debug


def fail(e: SpecError | SpecErrors) -> None:
    """Print a user mistake as file:line:col: path: message (+ hint) and exit 2."""
    items = e.errors if isinstance(e, SpecErrors) else [e]
    for item in items:
        head = (str(item.loc) + ": ") if item.loc else ""
        path = (item.path + ": ") if item.path else ""
        err.print(f"[bold]{_esc(head)}[/bold][cyan]{_esc(path)}[/cyan][red]{_esc(item.message)}[/red]", highlight=False)
        if item.hint:
            err.print(f"  [green]hint:[/green] {_esc(item.hint)}", highlight=False)
    if isinstance(e, SpecErrors) and e.truncated:
        err.print(f"... and {e.truncated} more error(s)")
    raise typer.Exit(2)


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def guarded(fn):
    """Run a command body; user mistakes become clean messages (tracebacks only with --debug)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (SpecError, SpecErrors) as e:
            if _state["debug"]:
                raise
            fail(e)
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130)
        except typer.Exit:
            raise
        except Exception as e:  # a bug in archspec or MindSpore, not a user mistake
            if _state["debug"]:
                raise
            err.print(f"[red]internal error:[/red] {type(e).__name__}: {_esc(str(e))[:2000]}", highlight=False)
            err.print("  run again with --debug for the traceback, and please report it")
            raise typer.Exit(1)
    return wrapper


def parse_input_shapes(items: Optional[List[str]]) -> dict[str, tuple[int, ...]] | None:
    if not items:
        return None
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, dims = item.rpartition("=")
        text = dims if sep else item
        try:
            shape = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
        except ValueError:
            shape = ()
        if not shape or any(d < 1 for d in shape):
            raise SpecError(f"--input-shape expects positive integers like 1,3,513,513; got {item!r}", Location("--input-shape"))
        shapes[name or ""] = shape
    return shapes


def load_graph(spec_path: Path, sets: Optional[List[str]], shapes: Optional[List[str]], allow_outside: bool = False,
               fuse: bool = True, timings: dict | None = None):
    """Load, resolve and fuse a spec. No MindSpore import."""
    from archspec import resolve
    from archspec.spec.loader import load
    from archspec.spec.params import parse_set_options

    t0 = time.perf_counter()
    overrides = parse_set_options(sets or [])
    spec = load(spec_path, overrides, allow_outside_imports=allow_outside, override_source="--set")
    t1 = time.perf_counter()
    input_shapes = parse_input_shapes(shapes)
    if input_shapes and "" in input_shapes:
        if len(spec.inputs) != 1:
            raise SpecError(f"the spec has {len(spec.inputs)} inputs; say which: --input-shape NAME=N,C,H,W",
                            Location("--input-shape"), hint="inputs: " + ", ".join(spec.inputs))
        input_shapes = {next(iter(spec.inputs)): input_shapes.pop("")}
    graph = resolve(spec, input_shapes, fuse=fuse)
    t2 = time.perf_counter()
    if timings is not None:
        timings.update(load=t1 - t0, resolve=t2 - t1)
    return spec, graph


@app.command()
@guarded
def validate(
    specs: List[Path] = typer.Argument(..., metavar="SPEC...", help="Spec files to check."),
    set_: Optional[List[str]] = SetOpt,
    input_shape: Optional[List[str]] = ShapeOpt,
    allow_outside_imports: bool = OutsideOpt,
) -> None:
    """Check specs without building anything: structure, params, references, shapes. Exit 2 on any mistake."""
    from archspec.report import human

    failed = False
    for path in specs:
        try:
            loaded, graph = load_graph(path, set_, input_shape, allow_outside_imports)
            from archspec.spec.inference import check_spec

            check_spec(loaded, graph)  # preprocess:/labels:, by predict's rules
        except (SpecError, SpecErrors) as e:
            if _state["debug"]:
                raise
            failed = True
            try:
                fail(e)
            except typer.Exit:
                continue
        out.print(f"[green]ok[/green] {_esc(str(path))}: {graph.name}, {len(graph.nodes)} nodes, "
                  f"{graph.total_params:,} params, {human(graph.total_macs, 'MACs')}", highlight=False)
    if failed:
        raise typer.Exit(2)


@app.command()
@guarded
def build(
    spec: Path = typer.Argument(..., metavar="SPEC", help="The spec to build."),
    set_: Optional[List[str]] = SetOpt,
    input_shape: Optional[List[str]] = ShapeOpt,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON report instead of tables."),
    allow_outside_imports: bool = OutsideOpt,
    weights: Optional[Path] = WeightsOpt,
    allow_partial: bool = AllowPartialOpt,
    save_ckpt: Optional[Path] = typer.Option(None, "--save-ckpt", metavar="PATH", help="Write the network's weights (as initialized, or as loaded by --weights) to a MindSpore checkpoint (.ckpt)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --save-ckpt file."),
    no_isa_fix: bool = NoIsaFixOpt,
) -> None:
    """Resolve a spec and build the MindSpore Cell; print every node's shape, params and MACs."""
    from archspec.report import graph_summary, human, node_table

    if save_ckpt is not None:  # fail before the slow part
        from archspec.fileio import check_target

        check_target(save_ckpt, force, "--save-ckpt")
    timings: dict[str, float] = {}
    _, graph = load_graph(spec, set_, input_shape, allow_outside_imports, timings=timings)
    from archspec.runtime.isa import apply_isa_fix

    isa = apply_isa_fix(not no_isa_fix)
    t0 = time.perf_counter()
    import mindspore  # noqa: F401  (timed on its own: the import alone takes ~2 s)
    t1 = time.perf_counter()
    from archspec.lower import build_cell, count_fused, find_unfused_conv_bn

    net = build_cell(graph)
    t2 = time.perf_counter()
    timings.update(import_mindspore=t1 - t0, lower=t2 - t1)
    weight_lines = _build_weights(net, weights, allow_partial, save_ckpt, force, timings)
    cell_params = sum(int(p.size) for p in net.trainable_params())
    fused = count_fused(net)
    unfused = find_unfused_conv_bn(net)
    summary = graph_summary(graph)
    summary.update(cell_params=cell_params, conv2dbnact_cells=fused, unfused_conv_bn=unfused,
                   timings_s={k: round(v, 4) for k, v in timings.items()}, cpu_isa=isa)
    if weight_lines:
        summary.update(weights=weight_lines)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    out.print(node_table(graph, title=f"{graph.name} ({_esc(str(spec))})"))
    inputs = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in graph.inputs.items())
    outputs = ", ".join(f"{k} {'x'.join(map(str, graph.shape_of(k)))}" for k in graph.outputs)
    out.print(f"inputs: {inputs}    outputs: {outputs}", highlight=False)
    out.print(f"params: {graph.total_params:,} (cell: {cell_params:,})    MACs: {human(graph.total_macs)} "
              f"({human(2 * graph.total_macs, 'FLOPs')})", highlight=False)
    out.print(f"nn.Conv2dBnAct cells with BN: {fused}    conv+bn pairs outside one: {len(unfused)}", highlight=False)
    for line in weight_lines:
        out.print(_esc(line), highlight=False)
    out.print("time: " + "  ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()), highlight=False)


def _build_weights(net, weights: Optional[Path], allow_partial: bool, save_ckpt: Optional[Path], force: bool,
                   timings: dict) -> list[str]:
    """`build --weights/--save-ckpt`: load, then save; one report line per item skipped or written."""
    from archspec.runtime.weights import listing, load_weights, save_weights

    if allow_partial and weights is None:
        raise SpecError("--allow-partial needs --weights CKPT", Location("--allow-partial"))
    lines = []
    if weights is not None:
        t0 = time.perf_counter()
        report = load_weights(net, weights, allow_partial=allow_partial)
        timings["load_weights"] = time.perf_counter() - t0
        lines.append(report.summary())
        for kind, items in (("missing", report.missing), ("shape differs", report.mismatched),
                            ("not in the network", report.unexpected)):
            if items:
                lines.append("  " + listing(kind, items))
    if save_ckpt is not None:
        t0 = time.perf_counter()
        save_weights(net, save_ckpt, force=force)
        timings["save_ckpt"] = time.perf_counter() - t0
        lines.append(f"wrote {save_ckpt} ({sum(1 for _ in net.get_parameters())} tensors)")
    return lines


@app.command()
@guarded
def graph(
    spec: Path = typer.Argument(..., metavar="SPEC"),
    out_path: Path = typer.Option(..., "--out", "-o", help="Output file: .dot, or .svg/.png (needs Graphviz's dot)."),
    set_: Optional[List[str]] = SetOpt,
    input_shape: Optional[List[str]] = ShapeOpt,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    allow_outside_imports: bool = OutsideOpt,
) -> None:
    """Draw the resolved graph: one box per node (ConvBnAct units as one), blocks as clusters."""
    from archspec.graph.dot import write_graph

    _, g = load_graph(spec, set_, input_shape, allow_outside_imports)
    written = write_graph(g, out_path, force=force)
    out.print(f"wrote {_esc(str(written))}", highlight=False)


@app.command()
@guarded
def schema(
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to a file instead of stdout."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Print the JSON Schema of the spec format (for editor completion and checking)."""
    from archspec.fileio import write_text
    from archspec.spec.jsonschema import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2) + "\n"
    if out_path is None:
        sys.stdout.write(text)
        return
    write_text(out_path, text, force=force)
    out.print(f"wrote {_esc(str(out_path))}", highlight=False)


@app.command()
@guarded
def ops() -> None:
    """List the ops a spec can use, with their arguments and defaults."""
    from rich.table import Table

    from archspec.ops import registry

    table = Table(header_style="bold", show_lines=True)
    table.add_column("op")
    table.add_column("arguments (default)")
    table.add_column("what it does")
    for name, op in sorted(registry.all_ops().items()):
        args = []
        for arg, f in op.args.model_fields.items():
            args.append(arg if f.is_required() else f"{arg} ({f.default!r})")
        table.add_row(name, ", ".join(args), op.doc)
    out.print(table)


def main() -> None:
    from archspec.runtime.isa import apply_blas_fix

    apply_blas_fix()  # before anything imports NumPy (no command needs it before this point)
    app()


# Commands that live in their own modules (archspec/commands/) register themselves on `app`.
from archspec.commands import register_all  # noqa: E402

register_all()

if __name__ == "__main__":
    # Run the importable module's app: command modules registered themselves on that one.
    import archspec.cli as _cli

    _cli.main()
