"""Load YAML as plain data that remembers where every key and value came from.

Only YAML's core types are built (mappings, sequences, str, int, float, bool, null); any other
tag (`!!python/object`, `!include`, ...) is refused, so a spec can never construct objects.
File size, nesting depth and the number of nodes (alias bombs) are bounded.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from archspec import limits
from archspec.errors import Location, SpecError
from archspec.files import read_regular

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster on big files


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """YAML 1.1 as PyYAML reads it, but `1e-6` and `1.0e6` are numbers (as in YAML 1.2 and JSON),
    not text: every paper writes epsilons that way."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))

_CORE_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}


class SMap(dict):
    """A mapping that knows the position of itself, of each key and of each value."""

    loc: Location
    key_locs: dict
    value_locs: dict

    def key_loc(self, key) -> Location:
        return self.key_locs.get(key, self.loc)

    def value_loc(self, key) -> Location:
        return self.value_locs.get(key, self.loc)


class SList(list):
    """A sequence that knows the position of itself and of each item."""

    loc: Location
    item_locs: list

    def item_loc(self, i: int) -> Location:
        return self.item_locs[i] if 0 <= i < len(self.item_locs) else self.loc


def smap(loc: Location, items: dict | None = None) -> SMap:
    m = SMap(items or {})
    m.loc, m.key_locs, m.value_locs = loc, {}, {}
    for k in m:
        m.key_locs[k] = m.value_locs[k] = loc
    return m


def slist(loc: Location, items: list | None = None) -> SList:
    s = SList(items or [])
    s.loc, s.item_locs = loc, [loc] * len(s)
    return s


def _loc(file: str, mark) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def read_text(path: Path, shown: str, what: str = "spec file") -> str:
    """The text of a spec (or library, weight map, recipe) file: a regular file (no FIFO or device) of
    at most `limits.SPEC_FILE_BYTES`, in UTF-8. Every problem is a SpecError at the file."""
    where = Location(shown)
    try:
        data = read_regular(path, limits.SPEC_FILE_BYTES, loc=where, what=what, shown=shown,
                            hint="check the path; imports and extends are relative to the file that names them")
    except limits.LimitError as e:
        raise limits.LimitError(e.message, where, hint="split it into a library (imports:) and a spec") from None
    except SpecError as e:
        if e.message.startswith(f"{what} not found"):
            e.message = f"file not found: {shown}"
        raise
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError(f"not UTF-8 text (byte {e.start})", where) from None


def load_yaml(text: str, file: str, empty_hint: str = "a spec starts with 'archspec: 1' and 'name: ...'") -> Any:
    """Parse YAML text into SMap/SList/scalars; every problem is a positioned SpecError.
    `empty_hint`: how a file of this kind starts, for an empty one."""
    _check_depth(text, file)
    try:
        try:
            node = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError:
            node = yaml.compose(text, Loader=yaml.SafeLoader)  # errors: PyYAML's marks and messages
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = _loc(file, mark) if mark else Location(file)
        raise SpecError(f"not valid YAML: {e.problem or e.context}", loc,
                        hint="check indentation, colons and quotes around this position") from None
    except yaml.YAMLError as e:
        raise SpecError(f"not valid YAML: {e}", Location(file)) from None
    if node is None:
        raise SpecError("the file is empty", Location(file, 1, 1), hint=empty_hint)
    builder = _Builder(file)
    return builder.build(node, 0)


def _check_depth(text: str, file: str) -> None:
    """Refuse deep nesting from the event stream (iterative), before the recursive composer runs."""
    depth = count = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > limits.YAML_DEPTH:
                    raise SpecError(f"nesting deeper than {limits.YAML_DEPTH} levels", _loc(file, event.start_mark),
                                    hint="a spec never needs this much nesting; use blocks instead")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
            if isinstance(event, yaml.NodeEvent) and not isinstance(event, yaml.AliasEvent):
                count += 1
                if count > limits.YAML_VALUES:  # fail fast, before composing and constructing
                    raise SpecError(f"the file holds more than {limits.YAML_VALUES} values", _loc(file, event.start_mark),
                                    hint="split it into a library (imports:) and a spec")
    except yaml.MarkedYAMLError as e:
        if "nesting depth" in str(e.problem) and e.problem_mark is not None:  # libyaml's own depth limit
            raise SpecError(f"nesting deeper than {limits.YAML_DEPTH} levels", _loc(file, e.problem_mark),
                            hint="a spec never needs this much nesting; use blocks instead") from None
        return  # compose reports syntax errors with their positions
    except yaml.YAMLError:
        return


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.count = 0
        self.seen: set[int] = set()
        self.aliased = False
        self.constructor = yaml.SafeLoader("")  # used only to turn core-tag scalars into values

    def build(self, node, depth: int):
        self.count += 1
        if id(node) in self.seen:
            self.aliased = True
        elif isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            self.seen.add(id(node))
        if self.count > limits.YAML_VALUES:
            if self.aliased:
                raise SpecError(f"the document expands to more than {limits.YAML_VALUES} values (YAML aliases?)",
                                _loc(self.file, node.start_mark), hint="avoid anchors/aliases that multiply")
            raise SpecError(f"the file holds more than {limits.YAML_VALUES} values", _loc(self.file, node.start_mark),
                            hint="split it into a library (imports:) and a spec")
        loc = _loc(self.file, node.start_mark)
        if depth > limits.YAML_DEPTH:
            raise SpecError(f"nesting deeper than {limits.YAML_DEPTH} levels", loc)
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                self._bad_tag(node, loc)
            out = smap(loc)
            merges = []
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # YAML merge key (<<), applied below
                    merges.append(value_node)
                    continue
                key = self.build(key_node, depth + 1)
                key_loc = _loc(self.file, key_node.start_mark)
                if isinstance(key, (dict, list)):
                    raise SpecError("a mapping key must be a plain value", key_loc)
                if key in out:
                    first = out.key_locs[key]
                    raise SpecError(f"duplicate key {key!r} (first defined at line {first.line})", key_loc,
                                    hint="YAML keeps only one of them; remove or rename one")
                out[key] = self.build(value_node, depth + 1)
                out.key_locs[key] = key_loc
                out.value_locs[key] = _loc(self.file, value_node.start_mark)
            for value_node in merges:  # the mapping's own keys win; earlier merge sources win over later ones
                merged = self.build(value_node, depth + 1)
                sources = merged if isinstance(merged, SList) else [merged]
                for i, src in enumerate(sources):
                    if not isinstance(src, SMap):
                        where = merged.item_loc(i) if isinstance(merged, SList) else _loc(self.file, value_node.start_mark)
                        raise SpecError("a YAML merge key (<<) takes a mapping or a list of mappings", where,
                                        hint="usually an alias of a mapping: <<: *base")
                    for k in src:
                        if k not in out:
                            out[k] = src[k]
                            out.key_locs[k], out.value_locs[k] = src.key_loc(k), src.value_loc(k)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                self._bad_tag(node, loc)
            out = slist(loc)
            for item in node.value:
                out.append(self.build(item, depth + 1))
                out.item_locs.append(_loc(self.file, item.start_mark))
            return out
        if node.tag not in _CORE_TAGS:
            self._bad_tag(node, loc)
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as e:
            raise SpecError(f"bad value {node.value!r}: {e}", loc) from None

    def _bad_tag(self, node, loc):
        raise SpecError(f"YAML tag {node.tag!r} is not allowed", loc,
                        hint="a spec is plain data: use mappings, lists, numbers, strings, booleans and null")
