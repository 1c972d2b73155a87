"""The JSON Schema of the spec format, with one node variant per op so editors can complete
op arguments (`archspec schema > archspec.schema.json`)."""
from __future__ import annotations

import copy
from typing import Any

from archspec.ops import registry
from archspec.spec.schema import EXPR, SpecFile

_EXPRESSION = {"type": "string", "pattern": EXPR, "description": "a ${...} expression over params"}


def _or_expression(arg_schema: dict) -> dict:
    """Any argument may also be written as a `${...}` expression."""
    described = {k: arg_schema[k] for k in ("title", "description", "default") if k in arg_schema}
    body = {k: v for k, v in arg_schema.items() if k not in described}
    return {**described, "anyOf": [body, _EXPRESSION]}


def spec_json_schema() -> dict[str, Any]:
    schema = SpecFile.model_json_schema()
    defs = schema.setdefault("$defs", {})
    node = defs["NodeDef"]
    common = {k: v for k, v in node["properties"].items() if k not in ("op", "block")}
    variants = []
    for name, op in sorted(registry.all_ops().items()):
        args_schema = op.args.model_json_schema()
        for sub_name, sub in args_schema.pop("$defs", {}).items():
            defs.setdefault(sub_name, sub)
        props = copy.deepcopy(common)
        props["op"] = {"const": name, "description": op.doc}
        for arg, arg_schema in args_schema.get("properties", {}).items():
            props[arg] = _or_expression(arg_schema)
        variants.append({
            "title": f"op: {name}", "type": "object", "properties": props, "required": ["op"],
            "additionalProperties": False, "description": op.doc,
        })
    block_props = copy.deepcopy(common)
    block_props["block"] = {"type": "string", "description": "a block from blocks: or an imported library"}
    variants.append({"title": "block", "type": "object", "properties": block_props, "required": ["block"],
                     "additionalProperties": True, "description": "a block instance; other keys are its params"})
    defs["NodeDef"] = {"title": "NodeDef", "anyOf": variants}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "archspec spec (version 1)"
    return schema
