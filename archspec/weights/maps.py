"""Weight maps: declarative rules that rename another framework's tensors onto a spec's parameters.

A map is a small YAML file (no MindSpore, no PyTorch needed to read or apply it)::

    archmap: 1                                   # format version (required)
    description: VainF DeepLabV3+ (ResNet) -> specs/deeplabv3p.yaml
    include: [lib/vainf_head.yaml]               # other maps; their rules are tried after these
    tables:                                      # lookup tables for {name:table} captures
      branch: {"0": b0, "1": b1, "2": b2, "3": b3}
    rules:
      - {from: "backbone.conv1.weight", to: "conv1.conv.weight"}
      - {from: "backbone.bn1.{p:bn}", to: "conv1.batchnorm.{p}"}
      - {from: "backbone.layer{s}.{b}.conv{k}.weight", to: "layer{s}.{b}.conv{k}.conv.weight"}
      - from: "classifier.classifier.{i:int}.weight"
        when: "${i % 3 == 0 and i // 3 < decoder_convs}"
        to: "decoder.fuse.${i // 3}.conv.weight"
      - {from: "aux_classifier.{rest:path}", to: null}          # drop these on purpose

Patterns (`from`) are tensor names with placeholders, matched against the WHOLE name:

  ``{name}``        one or more characters other than '.' (a text value)
  ``{name:int}``    digits (an int value, usable in arithmetic)
  ``{name:path}``   one or more characters, dots included
  ``{name:TABLE}``  one of the keys of table TABLE; its value is the table's entry for that key

A pattern must say where each placeholder ends, so that matching stays fast on any name:
placeholders may not touch (``{a}{b}``), ``{x}`` ends at a dot or the end of the name, ``{x:int}``
before anything but a digit, and a pattern has at most one placeholder that can take any text
(``{x:path}``, or a table not followed by a dot). Names over `limits.NAME_CHARS` are refused.

The built-in table ``bn`` translates PyTorch's BatchNorm names into MindSpore's:
``weight -> gamma, bias -> beta, running_mean -> moving_mean, running_var -> moving_variance``.

`to` is the target parameter name: ``{name}`` inserts a capture, ``${...}`` evaluates an expression
(archspec's safe expression language) over the captures and the spec's params; ``to: null`` drops
the matched tensors deliberately. `when` (optional) is such an expression that must be true for the
rule to apply. `optional: true` allows a rule to match nothing.

Rules are tried in order (this file's, then each included map's); the first rule whose pattern
matches and whose `when` holds decides a tensor's fate. BatchNorm's ``num_batches_tracked``
counters are always ignored (MindSpore has no such tensor). BatchNorm momentum and eps are
hyper-parameters of the spec, not tensors, and the spec already uses PyTorch's convention for
both, so nothing needs converting.

Applying a map (`WeightMap.apply`) gives a `MapResult`: the source -> target pairs, the tensors
dropped by rules, the ignored counters, the unmapped tensors, and how many tensors each rule took
(a rule that takes none is a mistake unless `optional`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from archspec import limits
from archspec.errors import Location, SpecError, SpecErrors, did_you_mean

__all__ = ["MAP_VERSION", "BN_TABLE", "Rule", "WeightMap", "MapResult", "load_map", "default_map_path"]

MAP_VERSION = 1
BN_TABLE = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
IGNORED_SUFFIX = "num_batches_tracked"

_TOP_KEYS = ("archmap", "description", "include", "tables", "rules")
_RULE_KEYS = ("from", "to", "when", "optional")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KINDS = {"": r"[^.]+", "int": r"[0-9]+", "path": r".+"}


@dataclass
class Rule:
    """One `from -> to` rule, compiled; `loc` is where it is written."""

    source: str  # the `from` pattern as written
    target: str | None  # the `to` template as written; None drops the tensor
    when: Any  # True, or a `${...}` string
    optional: bool
    loc: Location
    regex: re.Pattern
    captures: dict[str, str]  # name -> kind ("", "int", "path" or a table name)
    tables: dict[str, dict[str, str]]

    def __str__(self) -> str:
        return f"{self.source} -> {self.target if self.target is not None else 'null'}"

    def match(self, name: str) -> dict[str, Any] | None:
        """Captured values for `name` (ints for :int, table entries for tables), or None."""
        m = self.regex.fullmatch(name)
        if m is None:
            return None
        values: dict[str, Any] = {}
        for cap, kind in self.captures.items():
            text = m.group(cap)
            if kind == "int":
                values[cap] = int(text)
            elif kind in ("", "path"):
                values[cap] = text
            else:
                values[cap] = self.tables[kind][text]
        return values

    def applies(self, values: dict[str, Any], params: Mapping[str, Any]) -> bool:
        if self.when is True:
            return True
        if self.when is False:
            return False
        from archspec.spec.expr import ExprError, render

        try:
            ok = render(self.when, _scope(params, values))
        except ExprError as e:
            raise e.at(self.loc, prefix=f"rule '{self}': when: ") from None
        if not isinstance(ok, bool):
            raise SpecError(f"rule '{self}': 'when' must give true or false, got {ok!r}", self.loc)
        return ok

    def render_target(self, values: dict[str, Any], params: Mapping[str, Any]) -> str | None:
        if self.target is None:
            return None
        from archspec.spec.expr import ExprError, _format, _split_template, evaluate

        scope = _scope(params, values)
        out = []
        try:
            for is_expr, text in _split_template(self.target):
                if is_expr:
                    out.append(_format(evaluate(text, scope), text))
                else:
                    out.append(_PLACEHOLDER.sub(lambda m: _format(values[m.group(1)], m.group(1)), text))
        except ExprError as e:
            raise e.at(self.loc, prefix=f"rule '{self}': to: ") from None
        return "".join(out)


def _scope(params: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    scope = dict(params)
    scope.update(values)  # captures shadow spec params of the same name
    return scope


@dataclass
class MapResult:
    """What applying a map to a set of source tensor names gave."""

    pairs: list[tuple[str, str, Rule]] = field(default_factory=list)  # (source, target, rule)
    dropped: list[tuple[str, Rule]] = field(default_factory=list)  # to: null
    ignored: list[str] = field(default_factory=list)  # num_batches_tracked counters
    unmapped: list[str] = field(default_factory=list)  # no rule matched
    hits: dict[int, int] = field(default_factory=dict)  # id(rule) -> tensors it took

    def dead_rules(self, rules: list[Rule]) -> list[Rule]:
        """Rules that took no tensor and are not optional."""
        return [r for r in rules if not r.optional and self.hits.get(id(r), 0) == 0]


@dataclass
class WeightMap:
    path: str
    description: str
    rules: list[Rule]
    files: list[str]

    def apply(self, names, params: Mapping[str, Any] | None = None) -> MapResult:
        """Rename `names` (source tensor names, in order) by the first rule that applies to each.

        Raises SpecError for a rule whose expression fails, and SpecErrors when two tensors land
        on the same target name.
        """
        from archspec.spec.expr import budget

        with budget():
            return self._apply(names, dict(params or {}))

    def _apply(self, names, params: dict[str, Any]) -> MapResult:
        res = MapResult()
        taken: dict[str, tuple[str, Rule]] = {}
        clashes: list[SpecError] = []
        for name in names:
            if len(name) > limits.NAME_CHARS:
                raise limits.LimitError(f"a tensor name has {len(name):,} characters (the limit is "
                                        f"{limits.NAME_CHARS:,}): '{name[:60]}...'", Location(self.path))
            if name == IGNORED_SUFFIX or name.endswith("." + IGNORED_SUFFIX):
                res.ignored.append(name)
                continue
            for rule in self.rules:
                values = rule.match(name)
                if values is None or not rule.applies(values, params):
                    continue
                res.hits[id(rule)] = res.hits.get(id(rule), 0) + 1
                target = rule.render_target(values, params)
                if target is None:
                    res.dropped.append((name, rule))
                elif target in taken:
                    first, first_rule = taken[target]
                    clashes.append(SpecError(
                        f"rule '{rule}' maps '{name}' onto '{target}', which '{first}' already took "
                        f"(rule at line {first_rule.loc.line})", rule.loc,
                        hint="make the patterns more specific, or add a `when:` condition"))
                else:
                    taken[target] = (name, rule)
                    res.pairs.append((name, target, rule))
                break
            else:
                res.unmapped.append(name)
        if clashes:
            if len(clashes) == 1:
                raise clashes[0]
            raise SpecErrors(clashes[:20], max(0, len(clashes) - 20))
        return res


def default_map_path(spec_file: str | Path, spec_name: str) -> Path:
    """The map `archspec weights import` uses by default: `maps/<spec name>.yaml` beside the spec, on
    ARCHSPEC_PATH or in the installed library (archspec.spec.library.find_map); if there is none, the
    path beside the spec (for the message)."""
    from archspec.spec.library import find_map

    return find_map(spec_file, spec_name) or Path(spec_file).parent / "maps" / f"{spec_name}.yaml"


def load_map(path: str | Path) -> WeightMap:
    """Read and check a map file (and the maps it includes). Every mistake is a positioned SpecError."""
    p = Path(path)
    shown = str(path)
    rules: list[Rule] = []
    files: list[str] = []
    description = _load_into(p, shown, rules, files, chain=())
    return WeightMap(path=shown, description=description, rules=rules, files=files)


def _load_into(p: Path, shown: str, rules: list[Rule], files: list[str], chain: tuple[Path, ...]) -> str:
    from archspec.spec.yamlsrc import SList, SMap, load_yaml, read_text

    text = read_text(p, shown)  # first: a missing file, a FIFO or a symlink loop is a clean message
    real = p.resolve()
    if real in chain:
        raise SpecError(f"maps include each other in a cycle: {' -> '.join(c.name for c in chain + (real,))}",
                        Location(shown))
    if len(chain) >= limits.MAP_INCLUDES:
        raise SpecError(f"includes nest deeper than {limits.MAP_INCLUDES} maps", Location(shown))
    raw = load_yaml(text, shown)
    files.append(shown)
    if not isinstance(raw, SMap):
        raise SpecError("a weight map must be a YAML mapping with 'archmap: 1' and 'rules:'",
                        getattr(raw, "loc", Location(shown, 1, 1)))
    errors: list[SpecError] = []
    for key in raw:
        if key not in _TOP_KEYS:
            errors.append(SpecError(f"unknown key '{key}' in a weight map", raw.key_loc(key),
                                    hint=did_you_mean(str(key), _TOP_KEYS)))
    if "archmap" not in raw:
        errors.append(SpecError("missing 'archmap: 1' (the map format version)", raw.loc,
                                hint="start the file with 'archmap: 1'"))
    elif raw["archmap"] != MAP_VERSION or isinstance(raw["archmap"], bool):
        errors.append(SpecError(f"unsupported map format version {raw['archmap']!r}; this archspec reads "
                                f"version {MAP_VERSION}", raw.value_loc("archmap")))
    description = raw.get("description", "") or ""
    if not isinstance(description, str):
        errors.append(SpecError("'description' must be text", raw.value_loc("description")))
        description = ""

    tables: dict[str, dict[str, str]] = {"bn": dict(BN_TABLE)}
    raw_tables = raw.get("tables")
    if raw_tables is None:
        raw_tables = {}
    elif not isinstance(raw_tables, SMap):
        errors.append(SpecError("'tables' must be a mapping of table name -> {key: value}",
                                raw.value_loc("tables")))
        raw_tables = {}
    for tname, entries in raw_tables.items():
        loc = raw_tables.key_loc(tname)
        if not isinstance(tname, str) or not _IDENT.match(tname) or tname in _KINDS:
            errors.append(SpecError(f"bad table name {tname!r}", loc,
                                    hint="a name of letters, digits and _; not 'int' or 'path'"))
            continue
        if not isinstance(entries, SMap) or not entries:
            errors.append(SpecError(f"table '{tname}' must be a non-empty mapping of key: value", loc))
            continue
        bad = [k for k, v in entries.items() if isinstance(v, (dict, list)) or v is None]
        if bad:
            errors.append(SpecError(f"table '{tname}': the value of {bad[0]!r} must be plain text",
                                    entries.value_loc(bad[0])))
            continue
        tables[tname] = {_text(k): _text(v) for k, v in entries.items()}

    own: list[Rule] = []
    raw_rules = raw.get("rules")
    if raw_rules is None:
        raw_rules = []
    elif not isinstance(raw_rules, SList):
        errors.append(SpecError("'rules' must be a list of {from: ..., to: ...}", raw.value_loc("rules")))
        raw_rules = []
    for i, item in enumerate(raw_rules):
        try:
            own.append(_rule(item, raw_rules.item_loc(i), tables))
        except SpecError as e:
            errors.append(e)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        raise SpecErrors(errors[:20], max(0, len(errors) - 20))
    rules.extend(own)

    includes = raw.get("include") or []
    if isinstance(includes, str):
        includes = [includes]
    if not isinstance(includes, list):
        raise SpecError("'include' must be a map file name or a list of them", raw.value_loc("include"))
    for j, inc in enumerate(includes):
        loc = includes.item_loc(j) if isinstance(includes, SList) else raw.value_loc("include")
        if not isinstance(inc, str) or not inc:
            raise SpecError("an include must be a file name", loc)
        target = Path(inc)
        resolved = (p.parent / target).resolve()
        if target.is_absolute() or not resolved.is_relative_to(p.parent.resolve()):
            raise SpecError(f"'{inc}' is outside the folder of {p.name}", loc,
                            hint="includes are relative to the map that names them and stay inside its folder")
        if not resolved.is_file():
            raise SpecError(f"map file not found: '{inc}' (looked for {resolved})", loc)
        _load_into(resolved, str(p.parent / target), rules, files, chain + (real,))
    if not rules and not chain:
        raise SpecError("the map has no rules", raw.loc, hint="add rules: [{from: ..., to: ...}, ...]")
    if len(rules) > limits.MAP_RULES:
        raise SpecError(f"more than {limits.MAP_RULES} rules", Location(shown))
    return description


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _rule(item: Any, loc: Location, tables: dict[str, dict[str, str]]) -> Rule:
    from archspec.spec.expr import ExprError, _split_template, names_in
    from archspec.spec.yamlsrc import SMap

    if not isinstance(item, SMap):
        raise SpecError("a rule must be a mapping {from: PATTERN, to: NAME}", loc)
    for key in item:
        if key not in _RULE_KEYS:
            raise SpecError(f"unknown rule key '{key}'", item.key_loc(key), hint=did_you_mean(str(key), _RULE_KEYS))
    if "from" not in item or "to" not in item:
        missing = "from" if "from" not in item else "to"
        raise SpecError(f"a rule needs '{missing}'", loc,
                        hint="write {from: SOURCE_PATTERN, to: TARGET_NAME} (to: null drops the tensors)")
    source, target = item["from"], item["to"]
    if not isinstance(source, str) or not source:
        raise SpecError("'from' must be a non-empty tensor-name pattern", item.value_loc("from"))
    if target is not None and (not isinstance(target, str) or not target):
        raise SpecError("'to' must be a parameter name (or null to drop the tensors)", item.value_loc("to"))
    optional = item.get("optional", False)
    if not isinstance(optional, bool):
        raise SpecError("'optional' must be true or false", item.value_loc("optional"))
    when = item.get("when", True)
    if not isinstance(when, bool) and not (isinstance(when, str) and "${" in when):
        raise SpecError("'when' must be true, false or an expression like \"${i < 3}\"", item.value_loc("when"))

    regex, captures = _compile_pattern(source, item.value_loc("from"), tables)

    # check the target template and the condition
    if target is not None:
        try:
            parts = _split_template(target)
        except ExprError as e:
            raise SpecError(f"to: {e.message}", item.value_loc("to"), hint=e.hint) from None
        for is_expr, text in parts:
            if is_expr:
                continue
            for ph in _PLACEHOLDER.finditer(text):
                if ph.group(1) not in captures:
                    raise SpecError(f"'to' uses '{{{ph.group(1)}}}', which the pattern does not capture",
                                    item.value_loc("to"), hint=did_you_mean(ph.group(1), captures) or
                                    f"captured: {', '.join(captures) or 'nothing'}")
            if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
                raise SpecError(f"unbalanced brace in '{target}'", item.value_loc("to"))
        try:
            names_in(target)
        except ExprError as e:
            raise SpecError(f"to: {e.message}", item.value_loc("to"), hint=e.hint) from None
    if isinstance(when, str):
        try:
            names_in(when)
        except ExprError as e:
            raise SpecError(f"when: {e.message}", item.value_loc("when"), hint=e.hint) from None
    return Rule(source=source, target=target, when=when, optional=optional, loc=loc, regex=regex,
                captures=captures, tables=tables)


def _literal(text: str, loc: Location) -> str:
    if "{" in text or "}" in text:
        raise SpecError(f"unbalanced brace in pattern text '{text}'", loc,
                        hint="placeholders look like {name}, {name:int}, {name:path} or {name:TABLE}")
    return text


def _compile_pattern(source: str, loc: Location, tables: dict[str, dict[str, str]]) -> tuple[re.Pattern, dict[str, str]]:
    """The regular expression of a `from` pattern and its captures (name -> kind).

    Built so that matching a name takes at most quadratic time in its length (the engine backtracks,
    and touching placeholders would make that exponential): each placeholder is matched atomically
    (never shortened again), which is exact because the text after it says where it ends: {x} and
    tables without dots in their keys before '.' or the end, {x:int} before anything but a digit.
    Placeholders that touch, or a {x} / {x:int} followed by text it could contain, are ambiguous and
    refused here, with the position; one 'open' placeholder per pattern ({x:path}, or a table in
    another place) is matched as written."""
    items: list[tuple[str, ...]] = []  # ("text", literal) | ("cap", name, kind, as written)
    captures: dict[str, str] = {}
    pos = 0
    for m in _PLACEHOLDER.finditer(source):
        if m.start() > pos:
            items.append(("text", _literal(source[pos:m.start()], loc)))
        name, _, kind = m.group(1).partition(":")
        name, kind = name.strip(), kind.strip()
        if not _IDENT.match(name):
            raise SpecError(f"bad placeholder '{{{m.group(1)}}}' in pattern '{source}'", loc,
                            hint="write {name}, {name:int}, {name:path} or {name:TABLE}")
        if name in captures:
            raise SpecError(f"placeholder '{name}' appears twice in pattern '{source}'", loc)
        if kind not in _KINDS and kind not in tables:
            raise SpecError(f"unknown placeholder type '{kind}' in '{{{m.group(1)}}}'", loc,
                            hint=did_you_mean(kind, list(_KINDS)[1:] + list(tables)) or
                            "types: int, path, or a table name (bn is built in)")
        captures[name] = kind
        items.append(("cap", name, kind, m.group(0)))
        pos = m.end()
    if pos < len(source):
        items.append(("text", _literal(source[pos:], loc)))
    parts: list[str] = []
    open_one = ""
    for i, item in enumerate(items):
        if item[0] == "text":
            parts.append(re.escape(item[1]))
            continue
        _, name, kind, shown = item
        after = items[i + 1] if i + 1 < len(items) else ("text", "")
        if after[0] == "cap":
            raise SpecError(f"placeholders {shown} and {after[3]} touch in pattern '{source}': where one ends is "
                            "ambiguous", loc, hint="put the text that separates them in the name between them "
                                                   "(usually '.')")
        follow = after[1]
        keys = sorted(tables.get(kind, {}), key=lambda k: (-len(k), k))
        if kind == "" and follow and not follow.startswith("."):
            raise SpecError(f"{shown} (text without dots) is followed by '{follow[0]}' in pattern '{source}': where "
                            "it ends is ambiguous", loc, hint=f"end it at a dot, or use {{{name}:int}} or a table")
        if kind == "int" and follow[:1].isdigit():
            raise SpecError(f"{shown} (digits) is followed by the digit '{follow[0]}' in pattern '{source}': where "
                            "it ends is ambiguous", loc, hint="separate them with other text")
        is_open = kind == "path" or (kind not in _KINDS and (any("." in k for k in keys)
                                                              or (follow and not follow.startswith("."))))
        if is_open and open_one:
            raise SpecError(f"{open_one} and {shown} can both take text of any length in pattern '{source}'; a "
                            "pattern may have one such placeholder", loc,
                            hint="capture the parts between dots with {name} or {name:int}")
        open_one = open_one or (shown if is_open else "")
        body = _KINDS[kind] if kind in _KINDS else "|".join(re.escape(k) for k in keys)
        parts.append(f"(?P<{name}>{body})" if is_open else f"(?P<{name}>(?>{body}))")
    return re.compile("".join(parts)), captures
