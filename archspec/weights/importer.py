"""Import weights trained elsewhere (PyTorch, mostly) into a MindSpore checkpoint for a spec.

    report = import_weights(graph, "vainf_resnet50.pth", "model.ckpt")   # archspec.import_weights loads the spec

Steps: read the source tensors (`weights.sources.read_source`: PyTorch, safetensors, npz, another
`.ckpt`), rename them by a weight map (`weights.maps`; by default the map named after the spec,
see `default_map_path`), check every target name and shape against the graph's parameters (the op
registry knows them: no network is built), and write a MindSpore `.ckpt` atomically
(`weights.checkpoint.write_checkpoint`).

Strict by default: a rule that matches nothing, a source tensor no rule takes, a target the spec
does not have, a shape that differs, or a spec parameter left without a value is an error, and
all of them are reported in one run; nothing is written. `allow_partial=True` writes the tensors
that fit (e.g. a backbone, or everything but a classifier with another number of classes) and
reports the rest; load such a file with `archspec build --weights X --allow-partial`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from archspec.errors import Location, SpecError, SpecErrors, did_you_mean
from archspec.weights.checkpoint import SHOW_FIRST, check_finite, listing
from archspec.weights.maps import MapResult, Rule, WeightMap, default_map_path, load_map
from archspec.weights.sources import read_source

__all__ = ["ImportReport", "import_weights"]

MAX_ERRORS = 20


@dataclass
class ImportReport:
    spec: str  # the spec's name
    source: str
    map: str
    out: str | None  # None when nothing was written (dry run)
    written: int = 0  # tensors written
    total: int = 0  # parameters of the spec's network
    notes: list[str] = field(default_factory=list)  # e.g. "used the 'model_state' entry"
    ignored: list[str] = field(default_factory=list)  # num_batches_tracked counters
    dropped: list[str] = field(default_factory=list)  # taken by `to: null` rules
    unmapped: list[str] = field(default_factory=list)  # source tensors no rule took
    unknown: list[str] = field(default_factory=list)  # "target (from source)" not in the spec
    mismatched: list[str] = field(default_factory=list)  # "target: source [..], spec [..]"
    missing: list[str] = field(default_factory=list)  # spec parameters without a value
    dead_rules: list[str] = field(default_factory=list)  # "file:line: rule"
    bytes: int = 0

    @property
    def complete(self) -> bool:
        return self.written == self.total and not (self.unmapped or self.unknown or self.mismatched)

    def lines(self) -> list[str]:
        """A short human report."""
        out = [f"mapped {self.written} of the {self.total} parameters of {self.spec} from {self.source} "
               f"(map {self.map})"]
        out += self.notes
        if self.ignored:
            out.append(f"ignored {len(self.ignored)} BatchNorm num_batches_tracked counters (no MindSpore counterpart)")
        if self.dropped:
            out.append(listing("dropped by `to: null` rules", self.dropped))
        for kind, items in (("skipped, no rule takes them", self.unmapped),
                            ("skipped, not parameters of the spec", self.unknown),
                            ("skipped, shape differs", self.mismatched),
                            ("spec parameters left as initialized when loaded with --allow-partial", self.missing),
                            ("rules that matched nothing", self.dead_rules)):
            if items:
                out.append(listing(kind, items))
        if self.out:
            out.append(f"wrote {self.out} ({self.bytes / 2**20:.1f} MiB)")
        return out


# --------------------------------------------------------------------------------------------
# importing


def import_weights(graph, source: str | Path, out: str | Path | None, *, map_path: str | Path | None = None,
                   force: bool = False, allow_partial: bool = False, allow_nonfinite: bool = False) -> ImportReport:
    """Rename `source`'s tensors onto the parameters of `graph` (a resolved spec) and write them to
    `out` (.ckpt); `out=None` checks everything and writes nothing. Raises SpecError/SpecErrors
    listing every problem (see the module docstring); on error nothing is written. Tensors holding
    NaN or inf are refused (named by their source names) unless `allow_nonfinite`.
    """
    from archspec.files import check_target

    if out is not None:
        out_p = Path(out)
        if out_p.suffix != ".ckpt":
            raise SpecError(f"{out_p} should end in .ckpt (MindSpore's loader reads only that name)",
                            Location("--out"), hint=f"e.g. --out {out_p.with_suffix('.ckpt')}")
        check_target(out_p, force, "--out")
    spec_file = graph.source
    if map_path is None:
        map_path = default_map_path(spec_file, graph.name)
        if not Path(map_path).is_file():
            raise SpecError(f"no weight map for spec '{graph.name}': looked for {map_path}", Location("--map"),
                            hint=f"pass --map MAP.yaml (write one like those in {Path(spec_file).parent / 'maps'})")
    wmap = load_map(map_path)
    arrays, notes = read_source(source)
    result = wmap.apply(list(arrays), graph.params)

    params = graph.parameter_shapes()  # names and shapes from the op registry: no network is built

    report = ImportReport(spec=graph.name, source=str(source), map=str(map_path), out=None, total=len(params),
                          notes=notes, ignored=list(result.ignored),
                          dropped=[f"{s} ({_rule_where(r)})" for s, r in result.dropped],
                          unmapped=list(result.unmapped))
    chosen: dict[str, np.ndarray] = {}
    unknown_by_rule: dict[int, list[tuple[str, str]]] = {}
    rules_by_id = {id(r): r for r in wmap.rules}
    for src, target, rule in result.pairs:
        if target not in params:
            unknown_by_rule.setdefault(id(rule), []).append((src, target))
            report.unknown.append(f"{target} (from {src})")
            continue
        arr = arrays[src]
        if tuple(arr.shape) != params[target]:
            report.mismatched.append(f"{target}: source {src} {list(arr.shape)}, spec {list(params[target])}")
            continue
        if arr.dtype.kind != "f":
            report.mismatched.append(f"{target}: source {src} has data type {arr.dtype}, not floating point")
            continue
        chosen[target] = arr
    report.missing = [n for n in params if n not in chosen]
    dead = result.dead_rules(wmap.rules)
    report.dead_rules = [f"{_rule_where(r)}: {r}" for r in dead]

    if not result.pairs and not result.dropped:
        names = list(arrays)
        raise SpecError(f"no rule of {wmap.path} matches any of the {len(names)} tensors of {source} "
                        f"(e.g. {', '.join(names[:3])}): the file is not in the layout this map is for",
                        Location(str(source)),
                        hint="pick the map for its layout with --map, or write one (archspec weights show SOURCE "
                             "lists the names; see specs/maps/)")
    if not allow_partial or not chosen:
        errors = _errors(report, wmap, result, dead, unknown_by_rule, rules_by_id, list(arrays), params, graph,
                         spec_file, str(source))
        if not chosen and not errors:
            errors = [SpecError(f"no tensor of {source} fits spec '{graph.name}'", Location(str(source)))]
        if errors:
            if allow_partial and not chosen:
                errors.insert(0, SpecError(f"nothing to write: no tensor of {source} fits spec '{graph.name}'",
                                           Location(str(source))))
            if len(errors) == 1:
                raise errors[0]
            raise SpecErrors(errors[:MAX_ERRORS], max(0, len(errors) - MAX_ERRORS))

    if not allow_nonfinite:
        sources = {target: src for src, target, _ in result.pairs}
        check_finite(((sources[t], a) for t, a in chosen.items()), str(source))
    if out is not None:
        from archspec.weights.checkpoint import write_checkpoint

        ordered = {n: chosen[n].astype(np.float32, copy=False) for n in params if n in chosen}
        write_checkpoint(ordered, out, force=force, option="--out")
        report.out = str(out)
        report.bytes = Path(out).stat().st_size
    report.written = len(chosen)
    return report


def _rule_where(rule: Rule) -> str:
    return f"{rule.loc.file}:{rule.loc.line}"


def _errors(report: ImportReport, wmap: WeightMap, result: MapResult, dead: list[Rule],
            unknown_by_rule: dict[int, list[tuple[str, str]]], rules_by_id: dict[int, Rule], source_names: list[str],
            params: dict[str, tuple], graph, spec_file: str, source: str) -> list[SpecError]:
    errors: list[SpecError] = []
    for rule in dead:
        errors.append(SpecError(f"rule '{rule}' matches no tensor of {source}", rule.loc,
                                hint=_near_miss(rule, source_names)))
    for rid, items in unknown_by_rule.items():
        rule = rules_by_id[rid]
        src, target = items[0]
        more = f" and {len(items) - 1} more" if len(items) > 1 else ""
        errors.append(SpecError(f"rule '{rule}' gives '{target}' (from '{src}'){more}, which spec '{graph.name}' "
                                f"does not have", rule.loc,
                                hint=did_you_mean(target, params) or "list the spec's parameter names with "
                                "archspec build SPEC --save-ckpt x.ckpt; archspec weights show x.ckpt"))
    if report.mismatched:
        errors.append(SpecError(
            f"{len(report.mismatched)} tensor(s) have another shape than the spec's parameters: "
            + "; ".join(report.mismatched[:SHOW_FIRST]) + (" ..." if len(report.mismatched) > SHOW_FIRST else ""),
            Location(source),
            hint=f"the spec's params decide these shapes (now {_params_text(graph)}): set the values the weights "
                 f"were trained with (--set NAME=VALUE), or pass --allow-partial to skip these tensors"))
    if report.unmapped:
        errors.append(SpecError(
            listing(f"tensors of {source} match no rule of {wmap.path}", report.unmapped), Location(source),
            hint="add rules for them to the map (`to: null` drops tensors on purpose), or pass --allow-partial"))
    if report.missing and not (dead or report.unmapped or report.mismatched or unknown_by_rule):
        errors.append(SpecError(listing(f"parameters of spec '{graph.name}' get no value from {source}",
                                        report.missing), Location(spec_file),
                                hint="add rules for them to the map, or pass --allow-partial to leave them "
                                     "as initialized (then load with --allow-partial)"))
    elif report.missing:
        errors.append(SpecError(listing(f"parameters of spec '{graph.name}' left without a value", report.missing),
                                Location(spec_file)))
    return errors


def _params_text(graph, limit: int = 8) -> str:
    items = [f"{k}={v}" for k, v in graph.params.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return ", ".join(items[:limit]) + (", ..." if len(items) > limit else "")


def _near_miss(rule: Rule, names: list[str]) -> str:
    """Source names that share the longest dotted prefix with the rule's literal start."""
    literal = rule.source.split("{", 1)[0]
    parts = literal.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if not prefix:
            continue
        close = [n for n in names if n.startswith(prefix)]
        if close:
            return "source names like it: " + ", ".join(close[:3]) + (" ..." if len(close) > 3 else "") + \
                   " (or mark the rule `optional: true`)"
    return ("the source has no names like it: is it the layout this map is for? (archspec weights show SOURCE "
            "lists them; mark the rule `optional: true` if it may match nothing)")
