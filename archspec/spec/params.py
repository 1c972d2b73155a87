"""Spec parameters: declarations, typed overrides (CLI strings or Python values), evaluation."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from archspec import limits
from archspec.errors import ErrorSink, Location, SpecError, did_you_mean
from archspec.spec import expr

_MISSING = object()


def type_name(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return None if expr.is_expr(value) else "str"
    return None


@dataclass
class ParamDef:
    name: str
    type: str | None  # None: derived from an expression, typed by its result
    default: Any = _MISSING
    choices: list | None = None
    min: float | None = None
    max: float | None = None
    doc: str = ""
    loc: Location | None = None
    path: str = ""

    @property
    def required(self) -> bool:
        return self.default is _MISSING


def param_defs(raw: Mapping, prefix: str) -> dict[str, ParamDef]:
    """ParamDefs from a structurally valid `params:` mapping (short or long form)."""
    out: dict[str, ParamDef] = {}
    for name, value in raw.items():
        loc = raw.value_loc(name) if hasattr(raw, "value_loc") else None
        path = f"{prefix}.{name}"
        if isinstance(value, dict):
            default = value["default"] if "default" in value else _MISSING
            ptype = value.get("type") or (type_name(default) if default is not _MISSING else None)
            out[name] = ParamDef(name, ptype, default, value.get("choices"), value.get("min"),
                                 value.get("max"), value.get("doc", ""), loc, path)
        else:
            out[name] = ParamDef(name, type_name(value), value, loc=loc, path=path)
    return out


def coerce(value: Any, p: ParamDef, loc: Location, path: str) -> Any:
    """Type-check (and for CLI strings, parse) a value for parameter p."""
    want = p.type
    if want is None:
        return value
    if isinstance(value, str) and want != "str" and not expr.is_expr(value) and loc.file == "--set":
        value = _parse_cli(value, want, p, loc, path)
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
    }[want]
    if not ok:
        hint = "use // for integer division" if want == "int" and isinstance(value, float) else ""
        raise SpecError(f"param '{p.name}' is {want}, got {type(value).__name__} {value!r}", loc, path, hint)
    if want == "float":
        try:
            value = float(value)
        except OverflowError:  # an int beyond float's range
            value = float("inf")
        if not math.isfinite(value):
            raise SpecError(f"param '{p.name}' must be a finite number; got {value!r}", loc, path,
                            "nan and inf are not sizes, rates or factors")
    if p.choices is not None and value not in p.choices:
        raise SpecError(f"param '{p.name}' must be one of {', '.join(map(str, p.choices))}; got {value!r}",
                        loc, path)
    if p.min is not None and value < p.min:
        raise SpecError(f"param '{p.name}' must be >= {p.min}; got {value!r}", loc, path)
    if p.max is not None and value > p.max:
        raise SpecError(f"param '{p.name}' must be <= {p.max}; got {value!r}", loc, path)
    return value


def _parse_cli(text: str, want: str, p: ParamDef, loc: Location, path: str) -> Any:
    t = text.strip()
    try:
        if want == "int":
            return int(t)
        if want == "float":
            return float(t)
        if want == "bool":
            low = t.lower()
            if low in ("true", "yes", "on", "1"):
                return True
            if low in ("false", "no", "off", "0"):
                return False
            raise ValueError
    except ValueError:
        pass
    raise SpecError(f"param '{p.name}' is {want}; cannot read {text!r} as {want}", loc, path,
                    hint={"bool": "use true or false"}.get(want, ""))


def parse_set_options(items: list[str]) -> dict[str, str]:
    """`--set k=v` strings to a mapping (values stay strings; typed against the param later)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set expects name=value, got {item!r}", Location("--set"),
                            hint="for example --set num_classes=19")
        out[key.strip()] = value
    return out


def evaluate_params(defs: dict[str, ParamDef], overrides: Mapping[str, Any], sink: ErrorSink,
                    override_loc: Location, base_scope: Mapping[str, Any] | None = None,
                    override_locs: Mapping[str, Location] | None = None, what: str = "param",
                    key_locs: Mapping[str, Location] | None = None) -> dict[str, Any]:
    """Final param values in declaration order: override, else default (which may use earlier params).

    `base_scope` is visible to default expressions but not returned (a block sees its caller's
    in_channels); `override_locs` positions each override (a block call's arguments).
    """
    override_locs = override_locs or {}
    for name in overrides:
        if name not in defs:
            message = f"unknown {what} '{name}'"
            if what.startswith("param of "):
                message = f"{what[len('param of '):]} has no param '{name}'"
            sink.add(SpecError(message, (key_locs or {}).get(name, override_locs.get(name, override_loc)), f"params.{name}",
                               did_you_mean(name, defs) or f"there are no {what}s to set here"))
    values: dict[str, Any] = {}
    failed: set[str] = set()
    for name, p in defs.items():
        if name not in overrides and expr.is_expr(p.default):
            try:
                if expr.names_in(p.default) & failed:
                    failed.add(name)  # its input was already reported
                    continue
            except expr.ExprError:
                pass
        try:
            if name in overrides and what == "param" and p.type is None and expr.is_expr(p.default):
                raise _derived(p, override_locs.get(name, override_loc))
            if name in overrides:
                values[name] = coerce(overrides[name], p, override_locs.get(name, override_loc), f"params.{name}")
                continue
            if p.required:
                if what == "param":
                    raise SpecError(f"param '{name}' has no default and was not set", p.loc, p.path,
                                    f"pass --set {name}=... (or overrides={{'{name}': ...}} from Python)")
                raise SpecError(f"{what} '{name}' is required", override_loc, p.path, f"add '{name}: ...' to the entry")
            value = p.default
            if expr.is_expr(value):
                try:
                    value = expr.render(value, {**(base_scope or {}), **values})
                except expr.ExprError as e:
                    later = [n for n in defs if n not in values and n != name and f"'{n}'" in e.message]
                    if e.message.startswith("unknown name") and later:
                        e.hint = (f"a {what}'s default sees only the {what}s declared above it: "
                                  f"declare '{later[0]}' before '{name}'")
                    raise e.at(p.loc, p.path) from None
            values[name] = coerce(value, p, p.loc, p.path)
        except limits.LimitError as e:  # every later param would hit it too: stop here
            sink.add(e)
            break
        except SpecError as e:
            failed.add(name)
            sink.add(e)
    return values


def _derived(p: ParamDef, loc: Location) -> SpecError:
    """Setting a derived param (`os16: "${output_stride == 16}"`) is a mistake: it follows its sources."""
    try:
        sources = sorted(expr.names_in(p.default))
    except expr.ExprError:
        sources = []
    at = f" ({p.loc})" if p.loc is not None else ""
    if not sources:
        return SpecError(f"{p.name} is computed by {p.default!r}{at} and cannot be set", loc, f"params.{p.name}")
    what = sources[0] if len(sources) == 1 else ", ".join(sources[:-1]) + " and " + sources[-1]
    return SpecError(f"{p.name} is derived from {what}; set {'that' if len(sources) == 1 else 'those'}",
                     loc, f"params.{p.name}", f"{p.name} is {p.default!r}{at}")
