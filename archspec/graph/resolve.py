"""Resolve a loaded Spec into a typed Graph: expand blocks and repeats, follow references,
evaluate `${...}` arguments, check them against each op's argument model, infer shapes and
count parameters and MACs. Every mistake is a SpecError at the YAML position it comes from."""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple

from pydantic import ValidationError

from archspec import limits
from archspec.errors import ErrorSink, Location, SpecError, did_you_mean
from archspec.graph.ir import Graph, Node, Shape
from archspec.ops import registry
from archspec.ops.registry import ShapeError
from archspec.spec import expr
from archspec.spec.loader import BlockSpec, Spec, removed_at
from archspec.spec.params import evaluate_params
from archspec.spec.schema import NODE_KEYS
from archspec.spec.yamlsrc import SList, SMap

_NO_INPUT = "\0no input"  # an input that could not be named (already reported)
# Ops that only rearrange values: an argmax class map (int32) may pass through them (checked in tests).
INDEX_LAYOUT_OPS = frozenset({"reshape", "permute", "flatten"})


class _Ref(NamedTuple):
    """A name an entry refers to, where the reference is written, and whether it is the implicit
    input (no `in:`: the entry above, which may have an automatic name)."""

    name: str
    loc: Location | None
    where: str
    implicit: bool = False


class _Failed(Exception):
    """A node could not be resolved; its error is already recorded. Dependents are skipped."""


@dataclass
class _Arg:
    value: Any
    loc: Location | None
    path: str


@dataclass
class _Scope:
    prefix: str  # name prefix for nodes made here ("c3.0.")
    values: dict[str, Any]  # params visible to expressions
    defaults: Mapping[str, SMap]
    inputs: dict[str, str | None]  # input name -> value name (None: failed upstream)
    path: str  # spec path of the graph list being expanded ("graph", "blocks.bottleneck.graph")
    instance: str = ""  # block instance name, shown in messages
    scope: tuple[str, ...] = ()
    block: str = ""
    depth: int = 0
    spec_values: dict[str, Any] = field(default_factory=dict)
    blocks: tuple[str, ...] = ()  # the blocks being expanded, outermost first


def _count(n: int) -> str:
    """A size for an error: exact while readable, else its order of magnitude (any int: no float)."""
    if n < 10**15:
        return f"{n:,}"
    digits = int(n.bit_length() * math.log10(2))  # floor(log10(n)), within one
    digits -= 10**digits > n
    return f"about 10^{digits}"


def _dims(shape) -> str:
    return "[" + ", ".join(str(d) if d < 10**15 else _count(d) for d in shape) + "]"


INPUT_SHAPE = Location("--input-shape")
SMALLER_INPUT = "use a smaller input size (--input-shape)"


def resolve(spec: Spec, input_shapes: Mapping[str, Shape] | None = None, *, size_loc: Location | None = None,
            size_fix: str | None = None) -> Graph:
    """The typed graph of `spec` at `input_shapes`. `size_loc` and `size_fix`: where those shapes came
    from and how to make them smaller, for the errors they cause (a command that sizes the net from a
    recipe key or --size names that, not --input-shape)."""
    r = _Resolver(spec, size_loc, size_fix)
    with expr.budget():
        try:
            return r.run(dict(input_shapes or {}))
        except limits.LimitError as e:  # a bound was reached: report it (and what came before), stop
            r.sink.add(e)
            r.sink.raise_if_any()
            raise


class _Resolver:
    def __init__(self, spec: Spec, size_loc: Location | None = None, size_fix: str | None = None) -> None:
        self.size_loc, self.size_fix = size_loc or INPUT_SHAPE, size_fix or SMALLER_INPUT
        self.spec = spec
        self.sink = ErrorSink()
        self.nodes: list[Node] = []
        self.shapes: dict[str, Shape] = {}
        self.index_nodes: set[str] = set()  # nodes whose output is an argmax's int32 class map
        self.names: set[str] = set()
        self.removed: dict[str, Location] = {}  # ids removed by `patch: {id: null}` -> where
        self.expanded = 0  # entries expanded so far: repetitions and block instances, skipped ones too
        self.total_params = 0

    # -- top level ---------------------------------------------------------------------------
    def run(self, input_shapes: dict[str, Shape]) -> Graph:
        spec = self.spec
        if not spec.graph:
            loc = spec.graph.loc if isinstance(spec.graph, SList) else Location(spec.file)
            raise SpecError("the graph is empty", loc, "graph",
                            "a spec needs a 'graph:' list of nodes (a file with only blocks is a library for imports:)")
        inputs = self.inputs(input_shapes)
        self.sink.raise_if_any()
        self.shapes.update(inputs)
        top = _Scope(prefix="", values=dict(spec.values), defaults=spec.defaults,
                     inputs={n: n for n in inputs}, path="graph", spec_values=dict(spec.values))
        ids = self.expand(spec.graph, top)
        outputs = self.outputs(ids)
        self.sink.raise_if_any()
        return Graph(name=spec.name, inputs=inputs, nodes=self.nodes, outputs=outputs,
                     params=dict(spec.values), source=spec.file)

    def inputs(self, overrides: dict[str, Shape]) -> dict[str, Shape]:
        spec = self.spec
        if not spec.inputs:
            self.sink.add(SpecError("the spec has no 'input:'", Location(spec.file, 1, 1), "input",
                                    "declare the input tensor, e.g. input: {image: [1, 3, 513, 513]}"))
            return {}
        out: dict[str, Shape] = {}
        for name, (raw, loc) in spec.inputs.items():
            path = f"input.{name}"
            try:
                dims = [expr.render(d, spec.values) for d in raw]
            except expr.ExprError as e:
                self.sink.add(e.at(loc, path))
                continue
            if not dims or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in dims):
                self.sink.add(SpecError(f"input '{name}' must be a list of positive integers (NCHW), got {dims}",
                                        loc, path))
                continue
            if not self.small_enough(dims, f"input '{name}'", loc, path):
                continue
            out[name] = tuple(dims)
        for name, shape in overrides.items():
            if name not in out and name not in spec.inputs:
                self.sink.add(SpecError(f"unknown input '{name}'", self.size_loc, "input",
                                        did_you_mean(name, spec.inputs)))
                continue
            if any(not isinstance(d, int) or d < 1 for d in shape):
                self.sink.add(SpecError(f"input shape must be positive integers, got {list(shape)}",
                                        self.size_loc, f"input.{name}"))
                continue
            if not self.small_enough(shape, f"input '{name}'", self.size_loc, f"input.{name}"):
                continue
            out[name] = tuple(int(d) for d in shape)
        return out

    def small_enough(self, shape, what: str, loc: Location | None, path: str) -> bool:
        """False (and a positioned error) for a tensor of more than `limits.TENSOR_ELEMENTS` elements."""
        n = math.prod(int(d) for d in shape)
        if n <= limits.TENSOR_ELEMENTS:
            return True
        self.sink.add(SpecError(f"{what} would have {_count(n)} elements {_dims(shape)}; the limit for one tensor is "
                                f"{limits.TENSOR_ELEMENTS:,}", loc, path,
                                f"{self.size_fix}, or fewer channels"))
        return False

    def outputs(self, ids: dict[str, str | None]) -> list[str]:
        spec = self.spec
        if spec.outputs is None:
            last = list(ids)[-1] if ids else None
            if last in self.removed:
                self.sink.add(SpecError(f"patch removes '{last}', the last entry of the graph and so the spec's output",
                                        self.removed[last], f"patch.{last}",
                                        "name the output in this spec: outputs: [<id>]"))
                return []
            return [ids[last]] if last and ids[last] else []
        out = []
        for i, name in enumerate(spec.outputs):
            loc = spec.outputs.item_loc(i)
            if name in self.removed:
                self.sink.add(SpecError(f"output '{name}' is a node that patch removes (at {self.removed[name]})",
                                        loc, f"outputs[{i}]", "name another node in outputs:, or keep this one"))
            elif name not in ids:
                self.sink.add(SpecError(f"output '{name}' names no node", loc, f"outputs[{i}]",
                                        did_you_mean(name, ids)))
            elif ids[name] is not None:
                out.append(ids[name])
        return out

    # -- one graph list (the spec's or a block's) ------------------------------------------------
    def expand(self, entries: SList, sc: _Scope) -> dict[str, str | None]:
        """Expand entries into nodes. Returns entry id -> the value name it produces (None: failed)."""
        ids: list[str] = []
        explicit: dict[str, int] = {}
        for i, e in enumerate(entries):
            eid = e.get("id")
            if eid is not None:
                if eid in explicit:
                    first = entries.item_loc(explicit[eid])
                    self.sink.add(SpecError(f"duplicate id '{eid}' (first used at line {first.line})",
                                            e.value_loc("id"), f"{sc.path}[{i}].id", "ids must be unique in a graph"))
                elif eid in sc.inputs:
                    self.sink.add(SpecError(f"id '{eid}' is already the name of an input", e.value_loc("id"),
                                            f"{sc.path}[{i}].id", "rename the node"))
                explicit.setdefault(eid, i)
        for i, e in enumerate(entries):
            eid = e.get("id")
            if eid is None:
                base = str(e.get("op") or e.get("block"))
                eid, n = f"{base}{i}", 0
                while eid in explicit or eid in sc.inputs or eid in ids:
                    n += 1
                    eid = f"{base}{i}_{n}"
            ids.append(eid)

        deps: list[list[int]] = []
        refs: list[list[_Ref]] = []
        index: dict[str, int] = {}
        # an id that is an input's name (reported above) leaves the name to the input
        clash = {i for i, eid in enumerate(ids) if entries[i].get("id") is not None and eid in sc.inputs}
        for i, eid in enumerate(ids):
            if entries[i].get("id") is not None and i not in clash:
                index.setdefault(eid, i)  # a duplicate id refers to its first use (the duplicate is an error)
        dups = clash | {i for i, eid in enumerate(ids) if eid in index and index[eid] != i}
        for i, e in enumerate(entries):
            names = self.entry_refs(e, i, sc, ids)
            refs.append(names)
            d = []
            for name, loc, where, implicit in names:
                if name == _NO_INPUT:
                    continue  # reported by entry_refs
                if implicit and i > 0:
                    d.append(i - 1)  # the entry above, named by id or not
                elif name in index:
                    d.append(index[name])
                elif name not in sc.inputs:
                    known = list(index) + list(sc.inputs)
                    hint = did_you_mean(name, known)
                    if name in ids:
                        hint = f"'{name}' is an automatic name; give that node an 'id:' to refer to it"
                    self.sink.add(SpecError(f"'{name}' names no node or input", loc, where, hint))
            deps.append(d)
        order = self.toposort(entries, ids, deps, sc)
        removed = {i: removed_at(e) for i, e in enumerate(entries) if removed_at(e) is not None}
        if removed:
            self.check_removed(entries, ids, refs, index, removed)
        values: dict[str, str | None] = dict(sc.inputs)
        values.update({eid: None for i, eid in enumerate(ids) if i not in clash})
        for i in order:
            if i in dups:
                continue  # already reported as a duplicate id
            if i in removed:  # its readers read its one input instead (check_removed reported the rest)
                data = refs[i][:self.data_ref_count(entries[i], refs[i])]
                values[ids[i]] = values.get(data[0].name) if len(data) == 1 else None
                continue
            values[ids[i]] = self.entry(entries[i], i, ids[i], refs[i], values, sc)
        for i in sorted(set(range(len(entries))) - set(order)):  # in or behind a cycle
            self.static_check(entries[i], sc, f"{sc.path}[{i}]")
        return {eid: values[eid] for eid in ids}

    def check_removed(self, entries: SList, ids: list[str], refs: list[list[_Ref]], index: dict[str, int],
                      removed: dict[int, Location]) -> None:
        """Entries removed by `patch: {id: null}`: one with a single input passes it on to its readers;
        one with several inputs may be read by nothing but other removed entries; none is an output."""
        def target(ref: _Ref, u: int) -> int | None:  # the entry a reference names (None: an input)
            return u - 1 if ref.implicit and u > 0 else index.get(ref.name)

        data_in = [[target(r, u) for r in rs[:self.data_ref_count(entries[u], rs)]] for u, rs in enumerate(refs)]
        readers: list[list[int]] = [[] for _ in entries]
        for u, rs in enumerate(refs):
            for r in rs:
                if target(r, u) is not None:
                    readers[target(r, u)].append(u)
        for i, loc in removed.items():
            self.removed[ids[i]] = loc
            if len(data_in[i]) < 2:
                continue
            live, stack, seen = [], [i], {i}
            while stack:  # removed one-input readers pass the value on: follow them
                j = stack.pop()
                for u in readers[j]:
                    if u not in seen:
                        seen.add(u)
                        if u not in removed:
                            live.append(u)
                        elif data_in[u] == [j]:
                            stack.append(u)
            if live:
                names = ", ".join(f"'{ids[u]}' ({entries.item_loc(u)})" for u in sorted(live))
                self.sink.add(SpecError(
                    f"patch removes '{ids[i]}', which reads {len(data_in[i])} inputs, but {names} read it: only a "
                    "removed node with one input can hand it on", loc, f"patch.{ids[i]}",
                    f"patch the readers' 'in:' too (e.g. {ids[min(live)]}: {{in: {refs[i][0].name}}}), or remove them "
                    "as well"))

    def entry_refs(self, e: SMap, i: int, sc: _Scope, ids: list[str]) -> list[_Ref]:
        where = f"{sc.path}[{i}]"
        raw_in = e.get("in")
        if raw_in is None:
            if i > 0:
                names = [_Ref(ids[i - 1], e.loc, where, implicit=True)]
            elif len(sc.inputs) == 1:
                names = [_Ref(next(iter(sc.inputs)), e.loc, where)]
            else:
                self.sink.add(SpecError(f"the first node must say which input it reads ('in:'): there are "
                                        f"{len(sc.inputs)} inputs", e.loc, where, "inputs: " + ", ".join(sc.inputs)))
                names = [_Ref(_NO_INPUT, e.loc, where)]
        elif isinstance(raw_in, str):
            names = [_Ref(raw_in, e.value_loc("in"), f"{where}.in")]
        else:
            names = [_Ref(n, raw_in.item_loc(j), f"{where}.in[{j}]") for j, n in enumerate(raw_in)]
        op = e.get("op")
        if registry.exists(op):
            for key in registry.get(op).ref_args:
                if isinstance(e.get(key), str) and not expr.is_expr(e[key]):
                    names.append(_Ref(e[key], e.value_loc(key), f"{where}.{key}"))
        return names

    def toposort(self, entries: SList, ids: list[str], deps: list[list[int]], sc: _Scope) -> list[int]:
        n = len(entries)
        indeg = [0] * n
        users: list[list[int]] = [[] for _ in range(n)]
        for i, d in enumerate(deps):
            for j in set(d):
                indeg[i] += 1
                users[j].append(i)
        ready = [i for i in range(n) if indeg[i] == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            i = heapq.heappop(ready)
            order.append(i)
            for u in users[i]:
                indeg[u] -= 1
                if indeg[u] == 0:
                    heapq.heappush(ready, u)
        if len(order) == n:
            return order
        stuck = {i for i in range(n) if indeg[i] > 0}
        cycle = _find_cycle(stuck, deps)
        first = min(cycle)
        names = " -> ".join(ids[i] for i in cycle + [cycle[0]])
        self.sink.add(SpecError(f"the graph has a cycle: {names}", entries.item_loc(first), f"{sc.path}[{first}]",
                                "a node cannot depend on its own output; check the 'in:' of these nodes "
                                "(a node without 'in:' reads the entry above it)"))
        return order  # the nodes outside the cycle (and not behind it) are still checked

    # -- one entry ---------------------------------------------------------------------------
    def expand_one(self, e: SMap, shown: str, n: int = 1) -> None:
        """Count `n` more expanded entries; a LimitError past `limits.EXPANSIONS` (entries that make no
        node, such as `when: false` inside a repeated block, cost time too)."""
        self.expanded += n
        if self.expanded > limits.EXPANSIONS:
            loc = e.value_loc("repeat") if "repeat" in e else e.loc
            raise limits.LimitError(f"the graph expands to more than {limits.EXPANSIONS:,} entries (repetitions and "
                                    "block instances, skipped ones included)", loc, shown,
                                    "check repeat counts and nested blocks")

    def entry(self, e: SMap, i: int, eid: str, refs, values: dict, sc: _Scope) -> str | None:
        where = f"{sc.path}[{i}]"
        shown = f"{where} (id: {e['id']})" if e.get("id") else where
        self.expand_one(e, shown)
        in_names = [values.get(r.name) for r in refs if r.name in values]
        if len(in_names) != len(refs) or any(v is None for v in in_names):
            self.static_check(e, sc, shown)  # an upstream error was reported; check what needs no input
            return None
        data_refs = self.data_ref_count(e, refs)
        inputs = in_names[:data_refs]
        extra = {key: in_names[data_refs + k] for k, key in enumerate(self.ref_keys(e))}
        try:
            scope_vals = self.graph_scope(sc.values, inputs)
            if "when" in e and e["when"] is not None:
                when = self.value(e["when"], scope_vals, e.value_loc("when"), f"{shown}.when")
                if not isinstance(when, bool):
                    raise SpecError(f"'when' must be true or false, got {when!r}", e.value_loc("when"), f"{shown}.when")
                if not when:
                    return self.passthrough(inputs, e, shown)
            reps = None
            if e.get("repeat") is not None:
                reps = self.value(e["repeat"], scope_vals, e.value_loc("repeat"), f"{shown}.repeat")
                if not isinstance(reps, int) or isinstance(reps, bool) or reps < 0:
                    raise SpecError(f"'repeat' must be a whole number >= 0, got {reps!r}", e.value_loc("repeat"),
                                    f"{shown}.repeat")
                if reps == 0:
                    return self.passthrough(inputs, e, shown)
                if self.expanded + reps > limits.EXPANSIONS:
                    self.expand_one(e, shown, reps)  # fails now, not after hours of repetitions
            name = sc.prefix + eid
            if reps is None:
                return self.instance(e, name, inputs, extra, sc, shown, first=False)
            out = inputs
            for r in range(reps):
                if r:
                    self.expand_one(e, shown)
                out = [self.instance(e, f"{name}.{r}", out, extra, sc, shown, first=(r == 0), rep=r)]
            return out[0]
        except limits.LimitError:
            raise
        except SpecError as err:
            self.sink.add(err)
        except _Failed:
            pass
        return None

    def static_check(self, e: SMap, sc: _Scope, shown: str) -> None:
        """Report the mistakes of an entry that can be seen without its inputs' shapes."""
        op, block = e.get("op"), e.get("block")
        if block is not None:
            if block not in self.spec.blocks:
                self.sink.add(SpecError(f"unknown block '{block}'", e.value_loc("block"), f"{shown}.block",
                                        did_you_mean(block, self.spec.blocks)))
            return
        if not registry.exists(op):
            self.sink.add(SpecError(f"unknown op '{op}'", e.value_loc("op"), f"{shown}.op",
                                    did_you_mean(op, registry.names()) or "run 'archspec ops' to list them"))
            return
        args = self.collect_args(e, sc, shown, first=False)
        plain = {k: a.value for k, a in args.items() if not expr.is_expr(a.value)}
        try:
            registry.get(op).args.model_validate(plain)
        except ValidationError as err:
            self.arg_errors(err, op, args, plain, e, sc, shown, keep=lambda sub: sub["type"] != "missing" and sub["loc"])

    def ref_keys(self, e: SMap) -> list[str]:
        op = e.get("op")
        if not registry.exists(op):
            return []
        return [k for k in registry.get(op).ref_args if isinstance(e.get(k), str) and not expr.is_expr(e[k])]

    def data_ref_count(self, e: SMap, refs) -> int:
        return len(refs) - len(self.ref_keys(e))

    def passthrough(self, inputs: list[str], e: SMap, shown: str) -> str:
        """A skipped entry (when: false, repeat: 0) passes its first input through."""
        if not inputs:
            raise SpecError("a skipped entry (when: false or repeat: 0) passes its first input through, "
                            "but it has no input", e.loc, shown)
        return inputs[0]

    def input_names(self, inputs: list[str]) -> dict[str, int | expr.Unavailable]:
        """What expressions know of an entry's (first) input: in_channels, in_height, in_width (NCHW;
        where the input has no such axis, the name equals null, and any other use is an error that
        shows the input's shape)."""
        shape = self.shapes.get(inputs[0], ()) if inputs else ()
        hint = "in_channels, in_height and in_width are axes 1, 2 and 3 of an NCHW input"

        def missing(name: str) -> expr.Unavailable:
            if not inputs:
                return expr.Unavailable(f"'{name}' is not known here: this entry has no input", hint)
            return expr.Unavailable(f"'{name}' is not known here: this entry's input '{inputs[0]}' has shape "
                                    f"{list(shape)}", hint)

        return {name: shape[axis] if len(shape) > axis else missing(name)
                for axis, name in ((1, "in_channels"), (2, "in_height"), (3, "in_width"))}

    def graph_scope(self, values: Mapping[str, Any], inputs: list[str], rep: int | None = None) -> dict[str, Any]:
        """The names an entry's expressions see: params, the input's sizes, and in the arguments of a
        repeated entry `rep`, the repetition's index (0, 1, ...)."""
        scope = {**values, **self.input_names(inputs)}
        if rep is not None:
            scope["rep"] = rep
        return scope

    def value(self, raw: Any, scope: Mapping[str, Any], loc: Location | None, path: str) -> Any:
        if isinstance(raw, list):  # k: ["${n}", 1]: each item is a value of its own
            locs = getattr(raw, "item_locs", None) or [loc] * len(raw)
            return [self.value(item, scope, at, f"{path}[{i}]") for i, (item, at) in enumerate(zip(raw, locs))]
        try:
            return expr.render(raw, scope)
        except expr.ExprError as err:
            if err.message == "unknown name 'rep'":
                err.hint = "rep, the repetition index, exists in the arguments of an entry with repeat: (not in its when:)"
            raise err.at(loc, path) from None

    def instance(self, e: SMap, name: str, inputs: list[str], extra: dict[str, str], sc: _Scope, shown: str,
                 first: bool, rep: int | None = None) -> str:
        if len(self.nodes) >= limits.GRAPH_NODES:
            raise limits.LimitError(f"the graph expands to more than {limits.GRAPH_NODES:,} nodes", e.loc, shown,
                                    "check repeat counts and nested blocks")
        if len(name) > limits.NAME_CHARS:
            raise limits.LimitError(f"node name '{name[:60]}...' has {len(name):,} characters; the limit is "
                                    f"{limits.NAME_CHARS:,} (block instance names and ids, dotted)", e.loc, shown,
                                    "use shorter ids, or nest blocks less deeply")
        args = self.collect_args(e, sc, shown, first)
        if e.get("op") is not None:
            return self.op_node(e, e["op"], name, inputs, extra, args, sc, shown, rep)
        return self.block_node(e, e["block"], name, inputs, args, sc, shown, rep)

    def collect_args(self, e: SMap, sc: _Scope, shown: str, first: bool) -> dict[str, _Arg]:
        """Arguments of an entry: op defaults of the scope, then the entry's own, then `first:`."""
        args: dict[str, _Arg] = {}
        op = e.get("op")
        if op is not None and op in sc.defaults:
            d = sc.defaults[op]
            for k, v in d.items():
                args[k] = _Arg(v, d.value_loc(k), f"defaults.{op}.{k}")
        for k, v in e.items():
            if k not in NODE_KEYS:
                args[k] = _Arg(v, e.value_loc(k), f"{shown}.{k}")
        if first and isinstance(e.get("first"), SMap):
            f = e["first"]
            for k, v in f.items():
                args[k] = _Arg(v, f.value_loc(k), f"{shown}.first.{k}")
        return args

    def op_node(self, e: SMap, op: str, name: str, inputs: list[str], extra: dict[str, str],
                args: dict[str, _Arg], sc: _Scope, shown: str, rep: int | None = None) -> str:
        if not registry.exists(op):
            raise SpecError(f"unknown op '{op}'", e.value_loc("op"), f"{shown}.op",
                            did_you_mean(op, registry.names()) or "run 'archspec ops' to list them")
        opdef = registry.get(op)
        in_shapes = [self.shapes[n] for n in inputs]
        lo, hi = opdef.min_inputs, opdef.max_inputs
        if len(inputs) < lo or (hi is not None and len(inputs) > hi):
            want = f"{lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
            raise SpecError(f"op '{op}' takes {want} input(s), got {len(inputs)}", e.value_loc("in") if "in" in e else e.loc,
                            f"{shown}.in", "list the inputs with in: [a, b]" if lo > 1 else "")
        scope = self.graph_scope(sc.values, inputs, rep)
        values: dict[str, Any] = {}
        for k, a in args.items():
            values[k] = self.value(a.value, scope, a.loc, a.path)
        try:
            model = opdef.args.model_validate(values)
        except ValidationError as err:
            self.arg_errors(err, op, args, values, e, sc, shown)
            raise _Failed() from None
        try:
            for key, ref in extra.items():
                target = opdef.ref_args[key]
                model = model.model_copy(update={target: tuple(self.shapes[ref][2:4])})
            model = opdef.complete(model, in_shapes)
            shape = tuple(opdef.infer(model, in_shapes))
            params, macs = opdef.cost(model, in_shapes, shape)
        except (OverflowError, ValueError) as err:  # e.g. a huge finite scale: sizes beyond any float
            raise SpecError(f"op '{op}': its arguments give sizes too large to compute ({err})", e.loc,
                            shown + self.where(sc), "check scale, size and stride arguments") from None
        except ShapeError as err:
            a = args.get(err.arg) if err.arg else None
            message = err.message.format(**{f"in{j}": n for j, n in enumerate(inputs)})
            hint = err.hint.format(**{f"in{j}": n for j, n in enumerate(inputs)})
            raise SpecError(message, a.loc if a else e.loc, (a.path if a else shown) + self.where(sc), hint) from None
        if name in self.names:
            raise SpecError(f"two nodes are both named '{name}'", e.loc, shown, "rename one of them")
        index_output = self.index_output(op, inputs, e, shown + self.where(sc))
        self.bound_sizes(op, model, shape, int(params), e, shown + self.where(sc))
        self.names.add(name)
        node = Node(name=name, op=op, args=model, inputs=list(inputs),
                    in_shapes=in_shapes, shape=shape, params=int(params), macs=int(macs),
                    loc=e.loc, path=shown, scope=sc.scope, block=sc.block)
        self.nodes.append(node)
        self.shapes[name] = shape
        if index_output:
            self.index_nodes.add(name)
        return name

    def index_output(self, op: str, inputs: list[str], e: SMap, shown: str) -> bool:
        """Whether the node's output is an int32 class map. The graph carries shapes, not dtypes: the
        one integer op, argmax, must be a graph output (or rearranged by a layout-only op first), since
        a float op reading its class map fails inside MindSpore."""
        if op == "argmax":
            return True
        indices = [n for n in inputs if n in self.index_nodes]
        if not indices:
            return False
        if op in INDEX_LAYOUT_OPS:
            return True
        raise SpecError(f"op '{op}' reads '{indices[0]}', an int32 class map (argmax); it needs float values",
                        e.value_loc("in") if "in" in e else e.loc, shown,
                        "make argmax a graph output (the deploy head `archspec export --argmax` adds) and "
                        "feed the ops after it the scores it reads")

    def bound_sizes(self, op: str, model, shape: Shape, params: int, e: SMap, shown: str) -> None:
        """A node's output is at most `limits.TENSOR_ELEMENTS` elements, the graph's parameters at most
        `limits.GRAPH_PARAMS` (LimitErrors at the node that goes over)."""
        n = math.prod(int(d) for d in shape)
        if n > limits.TENSOR_ELEMENTS:
            raise limits.LimitError(f"op '{op}' gives a tensor of {_count(n)} elements {_dims(shape)}; the limit "
                                    f"for one tensor is {limits.TENSOR_ELEMENTS:,}", e.loc, shown,
                                    f"{self.size_fix}, fewer channels or a smaller scale")
        self.total_params += params
        if self.total_params > limits.GRAPH_PARAMS:
            raise limits.LimitError(f"the graph declares more than {limits.GRAPH_PARAMS:,} parameters ('{op}' adds "
                                    f"{params:,})", e.loc, shown, "check out/channel counts: a model this size "
                                    "cannot be built, saved or trained")

    def arg_errors(self, err: ValidationError, op: str, args: dict[str, _Arg], values: dict, e: SMap, sc: _Scope,
                   shown: str, keep=lambda sub: True) -> None:
        """Position each pydantic error of an op's arguments at the YAML value (or key) at fault."""
        opdef = registry.get(op)
        best: dict = {}
        for sub in err.errors(include_url=False):
            key = sub["loc"][0] if sub["loc"] else None
            if key not in best or len(sub["loc"]) > len(best[key]["loc"]):
                best[key] = sub  # int | [int, int]: the member that got furthest explains the mistake
        for sub in best.values():
            if not keep(sub):
                continue
            key = sub["loc"][0] if sub["loc"] else None
            a = args.get(key) if isinstance(key, str) else None
            if sub["type"] == "extra_forbidden":
                loc = e.key_loc(key) if key in e else (a.loc if a else e.loc)
                fields = list(opdef.args.model_fields)
                self.sink.add(SpecError(f"op '{op}' has no argument '{key}'", loc, a.path if a else shown,
                                        did_you_mean(key, fields) or "arguments: " + ", ".join(fields)))
                continue
            msg = sub["msg"].removeprefix("Value error, ")
            if msg.startswith("Input should"):
                msg = f"'{key}' should" + msg[len("Input should"):]
            if sub["type"] == "missing":
                msg = f"op '{op}' needs argument '{key}'"
            got = f" (got {values.get(key)!r})" if a is not None else ""
            self.sink.add(SpecError(msg + got, a.loc if a else e.loc, (a.path if a else shown) + self.where(sc)))

    def where(self, sc: _Scope) -> str:
        return f" (in {sc.instance})" if sc.instance else ""

    def block_node(self, e: SMap, block: str, name: str, inputs: list[str], args: dict[str, _Arg],
                   sc: _Scope, shown: str, rep: int | None = None) -> str:
        spec = self.spec
        b: BlockSpec | None = spec.blocks.get(block)
        if b is None:
            raise SpecError(f"unknown block '{block}'", e.value_loc("block"), f"{shown}.block",
                            did_you_mean(block, spec.blocks) or "define it under 'blocks:' or import a library")
        if block in sc.blocks:
            chain = " -> ".join((*sc.blocks[sc.blocks.index(block):], block))
            raise SpecError(f"block '{block}' uses itself ({chain})", e.value_loc("block"), f"{shown}.block",
                            "a block cannot contain itself, directly or through other blocks")
        if sc.depth >= limits.BLOCK_DEPTH:
            raise limits.LimitError(f"blocks nest deeper than {limits.BLOCK_DEPTH} levels (a block that uses "
                                    "itself?)", e.value_loc("block"), shown)
        if len(inputs) != len(b.inputs):
            raise SpecError(f"block '{block}' takes {len(b.inputs)} input(s) ({', '.join(b.inputs)}), got {len(inputs)}",
                            e.value_loc("in") if "in" in e else e.loc, f"{shown}.in")
        caller_scope = self.graph_scope(sc.values, inputs, rep)
        overrides = {k: self.value(a.value, caller_scope, a.loc, a.path) for k, a in args.items()}
        sink = ErrorSink()
        values = evaluate_params(b.params, overrides, sink, e.loc, base_scope=self.input_names(inputs),
                                 override_locs={k: a.loc for k, a in args.items()}, what=f"param of block '{block}'",
                                 key_locs={k: e.key_loc(k) for k in args if k in e})
        if sink:
            for err in sink.errors:
                err.path = shown + self.where(sc)
                self.sink.add(err)
            raise _Failed()
        library = b.defaults is not None
        base_defaults = b.defaults if library else spec.defaults
        defaults = {op: _merge(base_defaults.get(op), b.own_defaults.get(op)) for op in
                    set(base_defaults) | set(b.own_defaults)}
        visible = dict(values) if library else {**sc.spec_values, **values}
        inner = _Scope(prefix=name + ".", values=visible, defaults=defaults,
                       inputs=dict(zip(b.inputs, inputs)), path=f"{b.path}.graph", instance=name,
                       scope=sc.scope + (name,), block=block, depth=sc.depth + 1, spec_values=sc.spec_values,
                       blocks=sc.blocks + (block,))
        ids = self.expand(b.graph, inner)
        out_id = b.output or list(ids)[-1]
        if out_id not in ids:
            raise SpecError(f"block '{block}' output '{out_id}' names no node of the block", b.output_loc or b.loc,
                            f"{b.path}.output",
                            did_you_mean(out_id, ids))
        if ids[out_id] is None:
            raise _Failed()
        return ids[out_id]


def _merge(a: SMap | None, b: SMap | None) -> SMap:
    if a is None:
        return b
    if b is None:
        return a
    out = SMap({**a, **b})
    out.loc = b.loc
    out.key_locs = {**a.key_locs, **b.key_locs}
    out.value_locs = {**a.value_locs, **b.value_locs}
    return out


def _find_cycle(stuck: set[int], deps: list[list[int]]) -> list[int]:
    """One cycle among the nodes Kahn's algorithm could not order, in dependency order."""
    start = min(stuck)
    path, seen = [start], {start: 0}
    node = start
    while True:
        nxt = min(j for j in deps[node] if j in stuck)
        if nxt in seen:
            cyc = path[seen[nxt]:]
            return list(reversed(cyc))
        seen[nxt] = len(path)
        path.append(nxt)
        node = nxt
