"""Load a spec: read YAML with positions, check its structure, follow imports and extends,
apply patches and param overrides. The result is a `Spec`, ready for the graph resolver."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from archspec import limits
from archspec.errors import ErrorSink, Location, SpecError, did_you_mean
from archspec.spec import expr, library
from archspec.spec.params import ParamDef, evaluate_params, param_defs
from archspec.spec.schema import SpecFile
from archspec.spec.yamlsrc import SList, SMap, load_yaml, read_text, slist, smap


@dataclass
class BlockSpec:
    name: str
    params: dict[str, ParamDef]
    inputs: list[str]
    graph: SList  # of SMap entries
    output: str | None
    defaults: dict[str, SMap] | None  # None: the spec's own (merged) defaults apply
    loc: Location
    path: str  # "blocks.bottleneck"
    doc: str = ""
    own_defaults: dict[str, SMap] = field(default_factory=dict)
    output_loc: Location | None = None


@dataclass
class Spec:
    """A loaded spec: everything the resolver needs, with positions kept."""

    name: str
    description: str
    file: str
    params: dict[str, ParamDef]
    values: dict[str, Any]  # final param values (after overrides)
    inputs: dict[str, tuple[list, Location]]  # name -> (raw shape items, position)
    defaults: dict[str, SMap]
    blocks: dict[str, BlockSpec]
    graph: SList
    outputs: SList | None
    files: list[str] = field(default_factory=list)  # every file read, top-level first
    sha256: str = ""  # of the top-level file's bytes
    # For `archspec predict` (see spec/inference.py): `preprocess:` merged key by key along
    # `extends:`, and `labels:` (a set name or a list) with the position of the value.
    preprocess: SMap | None = None
    labels: Any = None
    labels_loc: Location | None = None


def load(path: str | Path, overrides: Mapping[str, Any] | None = None, *,
         allow_outside_imports: bool = False, override_source: str = "overrides") -> Spec:
    """Load and check a spec file. Raises SpecError / SpecErrors for every user mistake found."""
    loader = _Loader(allow_outside_imports)
    sink = ErrorSink()
    top, shown = library.named_file(path)
    spec = loader.load_spec(top, shown, sink, chain=())
    sink.raise_if_any()
    assert spec is not None
    override_loc = Location(override_source)
    with expr.budget():
        spec.values = evaluate_params(spec.params, dict(overrides or {}), sink, override_loc)
    sink.raise_if_any()
    spec.files = list(loader.files)
    spec.sha256 = loader.top_sha256
    return spec


def declared_params(path: str | Path, *, allow_outside_imports: bool = False) -> dict[str, ParamDef]:
    """The params a spec file declares (along `extends:`), read without evaluating them: a required
    param may still come from the command line. Raises SpecError(s) for a spec that does not load."""
    sink = ErrorSink()
    spec = _Loader(allow_outside_imports).load_spec(*library.named_file(path), sink, chain=())
    sink.raise_if_any()
    assert spec is not None
    return spec.params


class _Loader:
    def __init__(self, allow_outside: bool) -> None:
        self.allow_outside = allow_outside
        self.files: list[str] = []
        self.top_sha256 = ""  # of the bytes read (the file is read once: it cannot change in between)
        self._libs: dict[Path, dict[str, BlockSpec]] = {}
        self._with_graph: set[Path] = set()  # imported files that are whole specs, not only blocks
        self._graph_imports: dict[Path, tuple[str, Location]] = {}  # file -> its first import of a whole spec

    # -- files -------------------------------------------------------------------------------
    def read(self, path: Path, shown: str, sink: ErrorSink) -> tuple[SMap, SpecFile | None] | None:
        text = read_text(path, shown)
        if not self.files:
            self.top_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.files.append(shown)
        raw = load_yaml(text, shown)
        if raw is None:
            raise SpecError("the file is empty", Location(shown, 1, 1), hint="a spec starts with 'archspec: 1' and 'name: ...'")
        if not isinstance(raw, SMap):
            kind = "a list" if isinstance(raw, list) else f"a single value ({type(raw).__name__})"
            raise SpecError(f"a spec must be a YAML mapping of keys, got {kind}", getattr(raw, "loc", Location(shown, 1, 1)),
                            hint="start with 'archspec: 1' and 'name: ...' on their own lines")
        try:
            model = SpecFile.model_validate(raw)
            _check_default_ops(raw, sink)
            return raw, model
        except ValidationError as e:
            for err in pydantic_errors(e, raw, SpecFile):
                sink.add(err)
            return raw, None

    def resolve_path(self, base: Path, target: str, loc: Location, path: str) -> tuple[Path, str]:
        """The file an `imports:`/`extends:` entry names (see spec/library.py for the lookup)."""
        if len(self.files) >= limits.SPEC_FILES:
            raise limits.LimitError(f"the spec reads more than {limits.SPEC_FILES} files (imports and extends)",
                                    loc, path, "merge libraries, or import fewer files")
        found = library.find(target, base, loc, path, allow_outside=self.allow_outside)
        return found.path, found.shown

    # -- specs -------------------------------------------------------------------------------
    def load_spec(self, path: Path, shown: str, sink: ErrorSink, chain: tuple[Path, ...]) -> Spec | None:
        got = self.read(path, shown, sink)
        raw, model = got
        if model is None:
            return None
        me = path.resolve()
        blocks = self.import_blocks(raw, me, path, sink, chain=(me,))
        parent: Spec | None = None
        if raw.get("extends") is not None:
            loc, where = raw.value_loc("extends"), "extends"
            try:
                ppath, pshown = self.resolve_path(path, raw["extends"], loc, where)
                if ppath in chain or ppath == me:
                    names = " -> ".join(c.name for c in (*chain, me, ppath))
                    raise SpecError(f"extends cycle: {names}", loc, where, "a spec cannot extend itself, directly or not")
                if len(chain) + 1 >= limits.SPEC_CHAIN:
                    raise limits.LimitError(f"specs extend each other more than {limits.SPEC_CHAIN} levels deep",
                                            loc, where, "extend a spec nearer the root")
                parent = self.load_spec(ppath, pshown, sink, chain + (me,))
            except SpecError as e:
                sink.add(e)
            if parent is None:
                return None
            if not parent.graph and raw.get("graph") is None:
                sink.add(SpecError(f"'{raw['extends']}' has no graph (a block library): there is nothing to extend",
                                   loc, where, f"import its blocks (imports: [{raw['extends']}]) and write a graph: "
                                               "of your own, or extend a spec"))
                return None
        if parent is None and not raw.get("graph") and me in self._graph_imports:
            target, loc = self._graph_imports[me]
            sink.add(SpecError(f"the graph is empty: '{target}' is imported for its blocks only, not its graph",
                               loc, "imports", f"to build on that spec, use extends: {target} (and patch: to change "
                                               "it), or write a graph: of your own"))
            return None
        own_blocks = self.block_specs(raw, None)
        for name, b in own_blocks.items():
            if name in blocks:
                sink.add(SpecError(f"block '{name}' is defined here and also imported from another file",
                                   raw["blocks"].key_loc(name), f"blocks.{name}", "rename one of them"))
        blocks.update(own_blocks)
        if parent is None:
            return self.fresh_spec(raw, shown, blocks, sink)
        return self.extend(parent, raw, shown, blocks, sink)

    def fresh_spec(self, raw: SMap, shown: str, blocks: dict[str, BlockSpec], sink: ErrorSink) -> Spec:
        if "patch" in raw and raw["patch"]:
            sink.add(SpecError("'patch' needs 'extends': there is no parent spec to patch", raw.key_loc("patch"), "patch"))
        return Spec(
            name=raw["name"], description=raw.get("description", ""), file=shown,
            params=param_defs(raw.get("params") or smap(raw.loc), "params"), values={},
            inputs=_inputs(raw), defaults=dict(raw.get("defaults") or {}), blocks=blocks,
            graph=raw.get("graph") if raw.get("graph") is not None else slist(raw.loc),
            outputs=raw.get("outputs"), preprocess=raw.get("preprocess"), labels=raw.get("labels"),
            labels_loc=raw.value_loc("labels") if raw.get("labels") is not None else None,
        )

    def extend(self, parent: Spec, raw: SMap, shown: str, blocks: dict[str, BlockSpec], sink: ErrorSink) -> Spec:
        params = dict(parent.params)
        for name, p in param_defs(raw.get("params") or smap(raw.loc), "params").items():
            if name in params and p.type is not None and params[name].type not in (None, p.type) \
                    and not (params[name].type == "float" and p.type == "int"):
                sink.add(SpecError(f"param '{name}' is {params[name].type} in the parent spec; got {p.type}",
                                   p.loc, p.path))
                continue
            if name in params and not isinstance(raw["params"][name], dict):
                old = params[name]  # a new default for an inherited param keeps its declaration
                p = ParamDef(name, old.type, p.default, old.choices, old.min, old.max, old.doc, p.loc, p.path)
            params[name] = p
        defaults = {op: smap(v.loc, dict(v)) for op, v in parent.defaults.items()}
        for op, v in (raw.get("defaults") or {}).items():
            merged = defaults.get(op, smap(v.loc))
            for k in v:
                merged[k] = v[k]
                merged.key_locs[k], merged.value_locs[k] = v.key_loc(k), v.value_loc(k)
            defaults[op] = merged
        all_blocks = dict(parent.blocks)
        all_blocks.update(blocks)
        graph = raw["graph"] if raw.get("graph") is not None else parent.graph
        graph = self.apply_patch(graph, raw, sink)
        inputs = dict(parent.inputs)
        inputs.update(_inputs(raw))
        preprocess = parent.preprocess
        if raw.get("preprocess") is not None:  # merged key by key: a child may change only `resize`
            child = raw["preprocess"]
            preprocess = smap(child.loc, dict(parent.preprocess or {}))
            if parent.preprocess is not None:
                preprocess.key_locs = dict(parent.preprocess.key_locs)
                preprocess.value_locs = dict(parent.preprocess.value_locs)
            for k in child:
                preprocess[k] = child[k]
                preprocess.key_locs[k], preprocess.value_locs[k] = child.key_loc(k), child.value_loc(k)
        self.check_new_params(parent, params, (graph, defaults, inputs, preprocess, raw.get("outputs")), all_blocks,
                              sink)
        own_labels = raw.get("labels") is not None
        return Spec(
            name=raw["name"], description=raw.get("description", parent.description), file=shown,
            params=params, values={}, inputs=inputs, defaults=defaults, blocks=all_blocks, graph=graph,
            outputs=raw["outputs"] if raw.get("outputs") is not None else parent.outputs,
            preprocess=preprocess, labels=raw["labels"] if own_labels else parent.labels,
            labels_loc=raw.value_loc("labels") if own_labels else parent.labels_loc,
        )

    @staticmethod
    def check_new_params(parent: Spec, params: dict[str, ParamDef], parts: tuple, blocks: dict[str, BlockSpec],
                         sink: ErrorSink) -> None:
        """A param a child spec adds that nothing uses and that reads like an inherited one is a typo
        (`params: {widht: 0.5}` would otherwise build the parent's width without a word)."""
        new = [p for name, p in params.items() if name not in parent.params]
        if not new:
            return
        used = _names_used(*parts, [p.default for p in params.values()],
                           [(b.graph, b.own_defaults, [p.default for p in b.params.values()]) for b in blocks.values()])
        for p in new:
            close = did_you_mean(p.name, parent.params)
            if p.name not in used and close.startswith("did you mean"):
                sink.add(SpecError(f"param '{p.name}' is new in this spec and nothing uses it", p.loc, p.path,
                                   f"{close} (inherited params are set by their own name)"))

    def apply_patch(self, graph: SList, raw: SMap, sink: ErrorSink) -> SList:
        patch = raw.get("patch") or {}
        if not patch:
            return graph
        by_id = {entry.get("id"): i for i, entry in enumerate(graph) if entry.get("id")}
        out = slist(graph.loc, list(graph))
        out.item_locs = list(graph.item_locs)
        for node_id, changes in patch.items():
            if node_id not in by_id:
                sink.add(SpecError(f"patch names node '{node_id}', which the parent graph does not have",
                                   patch.key_loc(node_id), f"patch.{node_id}", did_you_mean(node_id, by_id)))
                continue
            i = by_id[node_id]
            entry = out[i]
            if removed_at(entry) is not None:
                sink.add(SpecError(f"patch names node '{node_id}', which the parent spec removes "
                                   f"(at {removed_at(entry)})", patch.key_loc(node_id), f"patch.{node_id}",
                                   "replace the whole graph in this spec to bring it back"))
                continue
            new = smap(entry.loc, dict(entry))
            new.key_locs, new.value_locs = dict(entry.key_locs), dict(entry.value_locs)
            if changes is None:  # `id: null` removes the node; the resolver reroutes its readers
                new.removed_by = patch.key_loc(node_id)
                out[i] = new
                continue
            # what is wrong with the patched entry as a whole is the patch's doing: point there
            new.loc = out.item_locs[i] = patch.key_loc(node_id)
            for k, v in changes.items():
                if k in ("id", "op", "block"):
                    sink.add(SpecError(f"patch cannot change '{k}'", changes.key_loc(k), f"patch.{node_id}.{k}",
                                       "replace the whole graph in the child spec to change structure"))
                    continue
                if v is None:
                    new.pop(k, None)
                else:
                    new[k] = v
                    new.key_locs[k], new.value_locs[k] = changes.key_loc(k), changes.value_loc(k)
            out[i] = new
        return out

    # -- blocks and imports --------------------------------------------------------------------
    def block_specs(self, raw: SMap, defaults: dict | None) -> dict[str, BlockSpec]:
        out = {}
        blocks = raw.get("blocks") or {}
        for name, b in blocks.items():
            out[name] = BlockSpec(
                name=name, params=param_defs(b.get("params") or smap(b.loc), f"blocks.{name}.params"),
                inputs=list(b.get("inputs") or ["in"]), graph=b["graph"], output=b.get("output"),
                defaults=defaults, loc=blocks.key_loc(name), path=f"blocks.{name}", doc=b.get("doc", ""),
                own_defaults=dict(b.get("defaults") or {}),
                output_loc=b.value_loc("output") if "output" in b else None,
            )
        return out

    def import_blocks(self, raw: SMap, me: Path, path: Path, sink: ErrorSink, chain: tuple[Path, ...]) -> dict[str, BlockSpec]:
        blocks: dict[str, BlockSpec] = {}
        imports = raw.get("imports") or []
        origin: dict[str, str] = {}
        for i, target in enumerate(imports):
            loc, where = imports.item_loc(i), f"imports[{i}]"
            try:
                ipath, ishown = self.resolve_path(path, target, loc, where)
                if ipath in chain:
                    names = " -> ".join(c.name for c in (*chain, ipath))
                    raise SpecError(f"import cycle: {names}", loc, where, "a library cannot import itself, directly or not")
                if len(chain) >= limits.SPEC_CHAIN:
                    raise limits.LimitError(f"libraries import each other more than {limits.SPEC_CHAIN} levels deep",
                                            loc, where, "import the blocks you need directly")
                lib = self.load_library(ipath, ishown, sink, chain + (ipath,))
            except SpecError as e:
                sink.add(e)
                continue
            if ipath in self._with_graph:
                self._graph_imports.setdefault(me, (str(target), loc))
            for name, b in lib.items():
                if name in blocks and blocks[name] is not b:
                    sink.add(SpecError(f"block '{name}' is defined in both {origin[name]} and {target}", loc, where,
                                       "rename one of them"))
                blocks[name] = b
                origin.setdefault(name, target)
        return blocks

    def load_library(self, path: Path, shown: str, sink: ErrorSink, chain: tuple[Path, ...]) -> dict[str, BlockSpec]:
        if path in self._libs:
            return self._libs[path]
        raw, model = self.read(path, shown, sink)
        if model is None:
            return {}
        if raw.get("graph"):
            self._with_graph.add(path)
        blocks = self.import_blocks(raw, path, path, sink, chain)
        # A library's blocks keep that library's own defaults (lexical scope).
        blocks.update(self.block_specs(raw, dict(raw.get("defaults") or {})))
        self._libs[path] = blocks
        return blocks


def _names_used(*values: Any) -> set[str]:
    """Every name that a `${...}` anywhere in these nested values refers to."""
    found: set[str] = set()
    stack = list(values)
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
        elif expr.is_expr(v):
            try:
                found |= expr.names_in(v)
            except expr.ExprError:
                pass  # reported where the value is evaluated
    return found


def removed_at(entry: SMap) -> Location | None:
    """Where a child spec's `patch: {id: null}` removed this graph entry (None: not removed)."""
    return getattr(entry, "removed_by", None)


def _check_default_ops(raw: SMap, sink: ErrorSink) -> None:
    from archspec.ops import registry

    tables = [("defaults", raw.get("defaults"))]
    for name, b in (raw.get("blocks") or {}).items():
        tables.append((f"blocks.{name}.defaults", b.get("defaults")))
    for where, table in tables:
        for op in table or {}:
            if op not in registry.names():
                sink.add(SpecError(f"defaults for unknown op '{op}'", table.key_loc(op), f"{where}.{op}",
                                   did_you_mean(op, registry.names()) or "run 'archspec ops' to list them"))


def _inputs(raw: SMap) -> dict[str, tuple[list, Location]]:
    inp = raw.get("input") or {}
    return {name: (shape, inp.value_loc(name)) for name, shape in inp.items()}


# -- pydantic errors -> positioned SpecErrors ---------------------------------------------------

def locate(raw: Any, path: tuple, key_position: bool = False) -> Location | None:
    """Walk a raw SMap/SList tree along a pydantic error path to the best known position."""
    node, loc = raw, getattr(raw, "loc", None)
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(node, SMap) and part in node:
            loc = node.key_loc(part) if (last and key_position) else node.value_loc(part)
            node = node[part]
        elif isinstance(node, SList) and isinstance(part, int) and 0 <= part < len(node):
            loc = node.item_loc(part)
            node = node[part]
        else:
            break
    return loc


def format_path(raw: Any, path: tuple) -> str:
    """`graph[3].repeat (id: c3)`: the spec path of an error, with the node id when known."""
    text, node, node_id = "", raw, None
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
        if isinstance(node, SMap) and part in node:
            node = node[part]
        elif isinstance(node, SList) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            if isinstance(node, SMap) and isinstance(node.get("id"), str):
                node_id = node["id"]
        else:
            node = None
    return f"{text} (id: {node_id})" if node_id else text


_UNION_TAGS = {"str", "list[str]", "bool", "int", "float", "none", "StrictBool", "StrictInt", "StrictFloat",
               "ParamDecl", "function-after[_typed(), ParamDecl]", "dict[str,any]", "LabelDef"}


def pydantic_errors(e: ValidationError, raw: Any, model: type) -> list[SpecError]:
    out: list[SpecError] = []
    seen: set[tuple] = set()
    items = []
    for err in e.errors(include_url=False):
        # Drop union-member tags from the path: ("params", "w", "float") -> ("params", "w")
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and (p in _UNION_TAGS or "[" in p or p.startswith("function-"))))
        loc = tuple("in" if p == "in_" else p for p in loc)
        items.append((loc, err))
    deeper = {loc[:i] for loc, _ in items for i in range(len(loc))}
    for loc, err in items:
        kind = err["type"]
        if loc in deeper:
            continue  # a union member that got further explains the mistake better
        if _is_numeric_ref(loc, err):
            out.append(SpecError(f"'in' names nodes by id, not by number (got {err.get('input')!r})", locate(raw, loc),
                                 format_path(raw, loc), "give the node an 'id:' and write its name, e.g. in: stem "
                                 "(numeric back-references like -1 are not supported)"))
            seen.add(loc)
            continue
        if loc in seen:
            continue  # one message per place (unions report one error per member)
        seen.add(loc)
        where = format_path(raw, loc)
        if kind == "extra_forbidden":
            key = loc[-1]
            fields = _fields_at(model, loc[:-1])
            out.append(SpecError(f"unknown key '{key}'", locate(raw, loc, key_position=True), where,
                                 did_you_mean(key, fields) if fields else ""))
            continue
        out.append(SpecError(_message(err, loc), locate(raw, loc), where, _hint(err, loc)))
    return out


def _is_numeric_ref(loc: tuple, err: dict) -> bool:
    inp = err.get("input")
    is_num = isinstance(inp, (int, float)) and not isinstance(inp, bool)
    return is_num and ("in" in loc[-2:]) and "graph" in loc


def _fields_at(model: type, path: tuple) -> list[str]:
    """Field names (by alias) allowed at `path` inside `model`, for did-you-mean hints."""
    from archspec.spec.schema import BlockDef, LabelDef, NodeDef, ParamDecl, PreprocessDef

    if not path:
        return [f.alias or n for n, f in model.model_fields.items()]
    if path[0] == "blocks" and len(path) == 2:
        return list(BlockDef.model_fields)
    if path[0] == "blocks" and len(path) == 4 and path[2] == "graph":
        return [f.alias or n for n, f in NodeDef.model_fields.items()]
    if path[0] in ("params",) or (len(path) >= 3 and path[-2] == "params"):
        return list(ParamDecl.model_fields)
    if path[0] == "graph":
        return [f.alias or n for n, f in NodeDef.model_fields.items()]
    if path == ("preprocess",):
        return list(PreprocessDef.model_fields)
    if path[0] == "labels":
        return list(LabelDef.model_fields)
    return []


def _message(err: dict, loc: tuple) -> str:
    kind, msg = err["type"], err["msg"]
    if loc == ("archspec",):
        if kind == "missing":
            return "missing 'archspec: 1' (the format version)"
        return f"version {err.get('input')!r} is not one this archspec reads (it reads 1)"
    if kind == "missing":
        return f"missing required key '{loc[-1]}'"
    if len(loc) >= 2 and loc[-2] == "params" and kind in ("model_type", "dict_type"):
        return ("a param is one value (number, string, true/false) or a mapping like "
                "{default: 16, choices: [8, 16], doc: ...}")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    return msg[0].lower() + msg[1:] if msg else msg


def _hint(err: dict, loc: tuple) -> str:
    kind = err["type"]
    if loc == ("archspec",):
        return "put 'archspec: 1' at the top of the file"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "id":
        return "ids are names like aspp_pool: letters, digits and _, not starting with a digit"
    if kind == "too_short" and loc and loc[-1] == "graph":
        return "add at least one node"
    if len(loc) >= 2 and loc[:1] == ("preprocess",) and loc[1] in ("mean", "std") and kind == "less_than_equal":
        return "mean and std are on the 0..1 pixel scale (value / 255), e.g. ImageNet's mean: [0.485, 0.456, 0.406]"
    return ""
