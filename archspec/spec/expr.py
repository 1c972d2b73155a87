"""Safe evaluation of `${...}` expressions in spec values.

A spec value may contain expressions over params::

    out:  "${make_divisible(32 * width, 8)}"
    rate: "${6 * 16 // output_stride}"
    act:  "${'relu6' if edge else 'relu'}"
    name: "head_${num_classes}"

The language is a tiny subset of Python expression syntax.  Source is parsed with
``ast.parse(src, mode="eval")`` and the tree is walked by a small interpreter that knows a
WHITELIST of node types; nothing is ever handed to ``eval``/``exec``/``compile``.

Language
  * literals: ints, floats, quoted strings, ``true``/``false``/``True``/``False``,
    ``null``/``None``.  These six words are reserved: a param of that name is never looked up.
  * names: looked up in the scope (the params) only.
  * ``+ - * / // % **``, unary ``- +``, comparisons (chains allowed) ``== != < <= > >=``,
    ``and``, ``or``, ``not``, and ``a if cond else b``.
  * indexing a literal list: ``[1, 2, 4][rep]`` (an int index, negative from the end as in
    Python; only the chosen item is evaluated). Lists exist only to be indexed: no slicing, no
    list values, no indexing of anything else.
  * calls to builtins only: ``min(a, b, ...)``, ``max(a, b, ...)``, ``round(x)``,
    ``round(x, n)``, ``int(x)``, ``float(x)``, ``abs(x)``, ``ceil(x)``, ``floor(x)`` and
    ``make_divisible(v, divisor, min_value=None)`` (MobileNet's ``_make_divisible``).

Type rules (stricter than Python, so mistakes surface early)
  * booleans are not numbers: ``true + 1`` is an error.
  * the only operation on strings is ``str + str`` (and comparisons).
  * ``and``/``or``/``not`` and the condition of ``a if c else b`` need booleans
    (``not 0`` is an error; write ``x == 0``).
  * ``==``/``!=`` between different kinds (e.g. ``1 == '1'``, ``true == 1``) is simply false;
    ints and floats compare numerically.
  * ``/`` always gives a float, even when the result is integral: ``${64 / 2}`` is ``32.0``.
    Where a field wants an int, the schema rejects that float later (use ``//``).
  * Python semantics otherwise (``round`` rounds half to even, ``//`` floors).

Limits (every violation is an :class:`ExprError`, never another exception)
  source longer than 500 characters, more than 300 expression nodes, nesting deeper than 100,
  ``**`` with an exponent above 64 in absolute value, any number whose absolute value exceeds
  2**63 (or a non-finite float), strings longer than `limits.TEXT_CHARS`, division by zero.
  Inside a `budget()` (a load, a resolve, applying a weight map), all evaluations together are
  bounded too (`limits.EXPR_EVALUATIONS`, `limits.EXPANDED_CHARS`): an :class:`ExprLimit`.
"""
from __future__ import annotations

import ast
import functools
import math
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from archspec import limits
from archspec.errors import Location, SpecError, did_you_mean

__all__ = ["ExprError", "ExprLimit", "budget", "is_expr", "evaluate", "render", "names_in"]

MAX_SOURCE_CHARS = 500
MAX_NODES = 300
MAX_DEPTH = 100
MAX_EXPONENT = 64
MAX_MAGNITUDE = 2**63
MAX_ROUND_DIGITS = 64

RESERVED: dict[str, Any] = {
    "true": True, "false": False, "null": None,
    "True": True, "False": False, "None": None,
}


class ExprError(Exception):
    """A mistake in a `${...}` expression: what went wrong (`message`) and how to fix it (`hint`)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message

    def at(self, loc: Location | None, path: str = "", prefix: str = "") -> SpecError:
        """This mistake as a SpecError at the spec position of the expression (a LimitError for
        ExprLimit, so that the run stops)."""
        cls = limits.LimitError if isinstance(self, ExprLimit) else SpecError
        return cls(prefix + self.message, loc, path, self.hint)


class ExprLimit(ExprError):
    """A bound on all evaluations together (`budget`) was reached."""


@dataclass
class _Budget:
    evaluations: int = 0
    chars: int = 0


_BUDGET: ContextVar[_Budget | None] = ContextVar("archspec_expr_budget", default=None)


@contextmanager
def budget() -> Iterator[None]:
    """Count every evaluation and every character of text made inside this block against
    `limits.EXPR_EVALUATIONS` and `limits.EXPANDED_CHARS` (a nested block shares the outer count)."""
    if _BUDGET.get() is not None:
        yield
        return
    token = _BUDGET.set(_Budget())
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _spend(evaluations: int = 0, chars: int = 0) -> None:
    b = _BUDGET.get()
    if b is None:
        return
    b.evaluations += evaluations
    b.chars += chars
    if b.evaluations > limits.EXPR_EVALUATIONS:
        raise ExprLimit(f"more than {limits.EXPR_EVALUATIONS:,} evaluations of ${{...}} (the limit for one spec)",
                        hint="a spec needs far fewer: look for repeat counts and blocks that multiply expressions")
    if b.chars > limits.EXPANDED_CHARS:
        raise ExprLimit(f"${{...}} made more than {limits.EXPANDED_CHARS:,} characters of text in all (the limit for "
                        "one spec)", hint="text values that embed other text values multiply; write the text out")


# --------------------------------------------------------------------------------------------
# public API


class Unavailable:
    """A name in scope with no value here (`in_height` after a flatten): it equals `null` in `==` and
    `!=`; any other use is an error that says why."""

    __slots__ = ("reason", "hint")

    def __init__(self, reason: str, hint: str = "") -> None:
        self.reason, self.hint = reason, hint


def is_expr(value: object) -> bool:
    """True if `value` is a string containing `${` (an expression or a template)."""
    return isinstance(value, str) and "${" in value


def evaluate(text: str, scope: Mapping[str, object]) -> object:
    """Evaluate the inside of one `${...}` against `scope` (param name -> value)."""
    _spend(evaluations=1)
    tree, src, names = _compile(text, scope)
    for name in names:
        if name not in scope:
            raise ExprError(f"unknown name '{name}'", hint=did_you_mean(name, scope))
    try:
        return _Evaluator(src, scope).eval(tree.body)
    except RecursionError:  # pragma: no cover - depth is bounded well below the stack limit
        raise ExprError(f"expression is nested too deeply: '{_short(src)}'") from None


def render(value: object, scope: Mapping[str, object]) -> object:
    """Substitute every `${...}` in `value`.

    * not a string, or no `${` in it: `value` unchanged;
    * exactly one `${expr}` (surrounding whitespace allowed): the typed result;
    * otherwise a string, each result formatted (ints as ints, floats via repr, bools as
      true/false, null as null).

    `$${` stands for a literal `${`.
    """
    if not isinstance(value, str) or "${" not in value:
        return value
    parts = _split_template(value)
    exprs = [content for is_expr_part, content in parts if is_expr_part]
    literals = [content for is_expr_part, content in parts if not is_expr_part]
    if len(exprs) == 1 and all(not lit.strip() for lit in literals):
        result = evaluate(exprs[0], scope)
        if isinstance(result, str):
            _spend(chars=len(result))
        return result
    out: list[str] = []
    size = 0
    for is_expr_part, content in parts:
        piece = _format(evaluate(content, scope), content) if is_expr_part else content
        size += len(piece)
        if size > limits.TEXT_CHARS:  # checked while joining: the parts may multiply
            raise ExprError(f"the text {_short(value)!r} becomes longer than {limits.TEXT_CHARS:,} characters",
                            hint="text values that embed other text values multiply; write the text out")
        out.append(piece)
    _spend(chars=size)
    return "".join(out)


def names_in(text: object) -> set[str]:
    """Names of params that a spec value (possibly with several `${...}`) refers to.

    Builtin function names in call position and the reserved words (true, null, ...) are not
    included.  A value without `${` refers to nothing.  Malformed expressions raise ExprError.
    """
    if not isinstance(text, str) or "${" not in text:
        return set()
    names: set[str] = set()
    for is_expr_part, content in _split_template(text):
        if is_expr_part:
            names.update(_compile(content)[2])
    return names


# --------------------------------------------------------------------------------------------
# templates


def _split_template(text: str) -> list[tuple[bool, str]]:
    """Split into (is_expression, content) parts; `$${` becomes a literal `${`."""
    parts: list[tuple[bool, str]] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("$${", i):
            buf.append("${")
            i += 3
        elif text.startswith("${", i):
            end = _find_close(text, i + 2)
            if end < 0:
                raise ExprError(f"unterminated '${{' in {_short(text)!r}",
                                hint="close the expression with '}', or write '$${' for a literal '${'")
            if buf:
                parts.append((False, "".join(buf)))
                buf = []
            parts.append((True, text[i + 2:end]))
            i = end + 1
        else:
            buf.append(text[i])
            i += 1
    if buf:
        parts.append((False, "".join(buf)))
    return parts


def _find_close(text: str, start: int) -> int:
    """Index of the `}` closing an expression that starts at `start` (skipping quoted strings)."""
    quote = ""
    j = start
    while j < len(text):
        c = text[j]
        if quote:
            if c == "\\":
                j += 1
            elif c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "}":
            return j
        j += 1
    return -1


def _format(value: object, src: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value
    raise ExprError(f"cannot put a {_kind(value)} into text: '${{{_short(src.strip())}}}'",
                    hint="only numbers, strings, booleans and null can be embedded in text")


# --------------------------------------------------------------------------------------------
# parsing and static checks

_BINOPS: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
    ast.Mod: "%", ast.Pow: "**",
}
_UNARYOPS: dict[type, str] = {ast.UAdd: "+", ast.USub: "-", ast.Not: "not"}
_CMPOPS: dict[type, str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
}
_ALLOWED_NODES: tuple[type, ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.And, ast.Or, ast.Compare, ast.IfExp, ast.Call, ast.keyword, ast.Subscript, ast.List,
    *_BINOPS, *_UNARYOPS, *_CMPOPS,
)
_FORBIDDEN_OPS: dict[type, tuple[str, str]] = {
    ast.BitAnd: ("&", "use 'and' for booleans"),
    ast.BitOr: ("|", "use 'or' for booleans"),
    ast.BitXor: ("^", "use '**' for powers"),
    ast.LShift: ("<<", "use '* 2 ** n'"),
    ast.RShift: (">>", "use '// 2 ** n'"),
    ast.MatMult: ("@", ""),
    ast.Invert: ("~", "use 'not' for booleans, '-' for numbers"),
    ast.In: ("in", ""),
    ast.NotIn: ("not in", ""),
    ast.Is: ("is", "use '== null' or '!= null'"),
    ast.IsNot: ("is not", "use '!= null'"),
}
_FORBIDDEN_NODES: dict[type, tuple[str, str]] = {
    ast.Attribute: ("attribute access", "only params, literals and builtin functions are available"),
    ast.Slice: ("slicing", "index one item: [1, 2, 4][i]"),
    ast.Lambda: ("lambda", ""),
    ast.ListComp: ("a comprehension", ""),
    ast.SetComp: ("a comprehension", ""),
    ast.DictComp: ("a comprehension", ""),
    ast.GeneratorExp: ("a generator expression", ""),
    ast.JoinedStr: ("an f-string", "embed expressions in text instead: \"head_${n}\""),
    ast.FormattedValue: ("an f-string", ""),
    ast.NamedExpr: ("assignment (:=)", ""),
    ast.Starred: ("a starred argument (*x)", ""),
    ast.Tuple: ("a tuple", ""),
    ast.Set: ("a set literal", ""),
    ast.Dict: ("a dict literal", ""),
    ast.Await: ("await", ""),
    ast.Yield: ("yield", ""),
    ast.YieldFrom: ("yield", ""),
}


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _compile(text: str, scope: Mapping[str, object] | None = None) -> tuple[ast.Expression, str, tuple[str, ...]]:
    """Parse and statically check an expression; returns (tree, normalized source, the names it
    reads). Checked expressions are cached by their text: a spec repeats the same few many times."""
    if not isinstance(text, str):
        raise ExprError(f"an expression must be a string, not {_kind(text)}")
    try:
        return _compile_cached(text)
    except ExprError:
        if scope is None:
            raise
        _parse_and_check(text, scope)  # again with the scope: "'x' is a param, not a function"
        raise


@functools.lru_cache(maxsize=4096)
def _compile_cached(text: str) -> tuple[ast.Expression, str, tuple[str, ...]]:
    return _parse_and_check(text, None)


def _parse_and_check(text: str, scope: Mapping[str, object] | None) -> tuple[ast.Expression, str, tuple[str, ...]]:
    if len(text) > MAX_SOURCE_CHARS:
        raise ExprError(f"expression too long ({len(text)} characters; the limit is {MAX_SOURCE_CHARS})",
                        hint="split it into several params")
    # Line breaks (e.g. from YAML block scalars) are plain spaces; eval mode rejects them.
    src = text.replace("\r", " ").replace("\n", " ").strip()
    if not src:
        raise ExprError("empty expression '${}'", hint="write an expression inside ${...}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. invalid escape sequences in string literals
            tree = ast.parse(src, mode="eval")
    except SyntaxError as e:
        col = f" (column {e.offset})" if e.offset else ""
        raise ExprError(f"invalid expression '{_short(src)}': {e.msg}{col}") from None
    except (RecursionError, MemoryError):
        raise ExprError(f"expression is too deeply nested to parse: '{_short(src)}'") from None
    except ValueError as e:  # e.g. null bytes, lone surrogates
        raise ExprError(f"invalid expression {_short(src)!r}: {e}") from None
    _check_size(tree, src)
    _check_nodes(tree)
    _check_calls(tree, scope)
    return tree, src, tuple(n.id for n in _value_names(tree))


def _check_size(tree: ast.Expression, src: str) -> None:
    count = deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (ast.expr, ast.keyword)):
            count += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    if count > MAX_NODES:
        raise ExprError(f"expression is too big ({count} parts; the limit is {MAX_NODES}): '{_short(src)}'",
                        hint="split it into several params")
    if deepest > MAX_DEPTH:
        raise ExprError(f"expression is nested too deeply ({deepest} levels; the limit is {MAX_DEPTH}): "
                        f"'{_short(src)}'", hint="split it into several params")


def _check_nodes(tree: ast.Expression) -> None:
    indexed = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}
    for node in ast.walk(tree):  # breadth first: the outermost offending construct is reported
        kind = type(node)
        if kind is ast.Subscript and not isinstance(node.value, ast.List):
            raise ExprError("indexing anything but a literal list is not allowed in expressions",
                            hint="index a list written in place, e.g. [1, 2, 4][rep]")
        if kind is ast.List and id(node) not in indexed:
            raise ExprError("a list value is not allowed in expressions (a literal list may only be indexed)",
                            hint="pick one item, e.g. [1, 2, 4][rep]")
        if kind in _FORBIDDEN_NODES:
            what, hint = _FORBIDDEN_NODES[kind]
            raise ExprError(f"{what} is not allowed in expressions", hint=hint)
        if kind in _FORBIDDEN_OPS:
            sym, hint = _FORBIDDEN_OPS[kind]
            raise ExprError(f"operator '{sym}' is not allowed in expressions", hint=hint)
        if kind not in _ALLOWED_NODES:
            raise ExprError(f"{kind.__name__} is not allowed in expressions")
        if kind is ast.Constant and not isinstance(node.value, (int, float, str, type(None))):
            what = {complex: "a complex number", bytes: "a bytes literal"}.get(type(node.value), "'...'")
            raise ExprError(f"{what} is not allowed in expressions")
        if kind is ast.keyword and node.arg is None:
            raise ExprError("keyword unpacking (**x) is not allowed in expressions")


def _check_calls(tree: ast.Expression, scope: Mapping[str, object] | None) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if not isinstance(node.func, ast.Name):
            raise ExprError("only builtin functions can be called in expressions",
                            hint="available: " + ", ".join(sorted(_BUILTINS)))
        name = node.func.id
        if name not in _BUILTINS:
            if scope is not None and name in scope:
                raise ExprError(f"'{name}' is a param, not a function; only builtins can be called",
                                hint="available: " + ", ".join(sorted(_BUILTINS)))
            raise ExprError(f"unknown function '{name}'",
                            hint=did_you_mean(name, _BUILTINS) or "available: " + ", ".join(sorted(_BUILTINS)))
        _BUILTINS[name].check(node)


def _value_names(tree: ast.Expression) -> list[ast.Name]:
    """Name nodes that read a param (not reserved words, not called functions), in source order."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    names = [n for n in ast.walk(tree)
             if isinstance(n, ast.Name) and id(n) not in called and n.id not in RESERVED]
    names.sort(key=lambda n: (n.lineno, n.col_offset))
    return names


# --------------------------------------------------------------------------------------------
# values


def _kind(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    return type(v).__name__


def _is_num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_scalar(v: object) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _too_large(where: str) -> ExprError:
    return ExprError(f"value too large in '{_short(where)}' (numbers must stay within +-2**63)")


def _bounded(value: Any, where: str) -> Any:
    """Check a numeric result against the magnitude limit."""
    if isinstance(value, complex):
        raise ExprError(f"result of '{_short(where)}' is not a real number")
    if isinstance(value, float) and math.isnan(value):
        raise ExprError(f"'{_short(where)}' is not a number (nan)", hint="numbers in a spec must be finite")
    if isinstance(value, float) and not math.isfinite(value):
        raise _too_large(where)
    if _is_num(value) and abs(value) > MAX_MAGNITUDE:
        raise _too_large(where)
    if isinstance(value, str) and len(value) > limits.TEXT_CHARS:
        raise ExprError(f"value too large in '{_short(where)}' (strings are limited to {limits.TEXT_CHARS} characters)")
    return value


def _operand_error(sym: str, a: object, b: object, where: str) -> ExprError:
    ka, kb = _kind(a), _kind(b)
    msg = f"cannot apply '{sym}' to {ka} and {kb} in '{_short(where)}'"
    if isinstance(a, bool) or isinstance(b, bool):
        return ExprError(msg + ": booleans are not numbers here",
                         hint="use (1 if flag else 0) to turn a boolean into a number")
    if isinstance(a, str) or isinstance(b, str):
        return ExprError(msg + ": the only arithmetic on strings is str + str",
                         hint="embed values in text instead: \"name_${n}\"")
    return ExprError(msg)


def _unary_error(sym: str, a: object, where: str) -> ExprError:
    msg = f"cannot apply '{sym}' to {_kind(a)} in '{_short(where)}'"
    if isinstance(a, bool):
        return ExprError(msg + ": booleans are not numbers here")
    return ExprError(msg)


def _need_bool(v: object, what: str, where: str) -> bool:
    if not isinstance(v, bool):
        raise ExprError(f"{what} must be a boolean, got {_kind(v)} in '{_short(where)}'",
                        hint="compare explicitly, e.g. 'x != 0' or 'x != null'")
    return v


def _equal(a: object, b: object, where: str) -> bool:
    for v in (a, b):
        if not _is_scalar(v):
            raise ExprError(f"cannot compare a {_kind(v)} in '{_short(where)}'")
    if _is_num(a) and _is_num(b):
        return a == b
    if _kind(a) != _kind(b):
        return False
    return a == b


def _orderable(sym: str, a: object, b: object, where: str) -> None:
    """Ordering needs two numbers or two strings."""
    if (_is_num(a) and _is_num(b)) or (isinstance(a, str) and isinstance(b, str)):
        return
    msg = f"cannot compare {_kind(a)} and {_kind(b)} with '{sym}' in '{_short(where)}'"
    if isinstance(a, bool) or isinstance(b, bool):
        msg += ": booleans are not numbers here"
    raise ExprError(msg)


# --------------------------------------------------------------------------------------------
# builtins


class _Builtin:
    def __init__(self, name: str, fn: Callable[..., Any], params: tuple[str, ...], required: int,
                 keywords: frozenset[str] = frozenset(), varargs: bool = False) -> None:
        self.name, self.fn, self.params, self.required = name, fn, params, required
        self.keywords, self.varargs = keywords, varargs

    def check(self, call: ast.Call) -> None:
        """Static arity / keyword check of a call."""
        n = len(call.args)
        given = n + len(call.keywords)
        names = [kw.arg for kw in call.keywords]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ExprError(f"{self.name}() got keyword argument '{name}' twice")
        if self.varargs:
            if call.keywords:
                raise ExprError(f"{self.name}() takes no keyword arguments")
            if n < self.required:
                raise ExprError(f"{self.name}() takes at least {self.required} arguments ({n} given)")
            return
        most = len(self.params)
        if n > most:
            raise ExprError(f"{self.name}() takes {self._arity()} ({given} given)")
        seen = set(self.params[:n])
        for kw in call.keywords:
            if kw.arg not in self.keywords:
                hint = f"allowed keywords: {', '.join(sorted(self.keywords))}" if self.keywords else ""
                raise ExprError(f"{self.name}() got an unexpected keyword argument '{kw.arg}'", hint=hint)
            if kw.arg in seen:
                raise ExprError(f"{self.name}() got multiple values for '{kw.arg}'")
            seen.add(kw.arg)
        missing = [p for p in self.params[:self.required] if p not in seen]
        if missing:
            raise ExprError(f"{self.name}() is missing argument '{missing[0]}' "
                            f"(it takes {self._arity()})")

    def _arity(self) -> str:
        lo, hi = self.required, len(self.params)
        if lo == hi:
            return f"exactly {lo} argument{'s' if lo != 1 else ''}"
        return f"{lo} to {hi} arguments"


def _num_arg(fname: str, v: object, what: str = "its argument") -> float | int:
    if not _is_num(v):
        extra = ": booleans are not numbers here" if isinstance(v, bool) else ""
        raise ExprError(f"{fname}() needs a number for {what}, got {_kind(v)}{extra}")
    return v  # type: ignore[return-value]


def _int_arg(fname: str, v: object, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise ExprError(f"{fname}() needs an int for {what}, got {_kind(v)}")
    return v


def _bi_extreme(fname: str, pick_smaller: bool) -> Callable[..., Any]:
    def fn(*args: object) -> object:
        best = args[0]
        for v in args[1:]:
            if not ((_is_num(best) and _is_num(v)) or (isinstance(best, str) and isinstance(v, str))):
                extra = ": booleans are not numbers here" if isinstance(best, bool) or isinstance(v, bool) else ""
                raise ExprError(f"{fname}() needs all numbers or all strings, got {_kind(best)} and {_kind(v)}{extra}")
            if (v < best) if pick_smaller else (v > best):  # type: ignore[operator]
                best = v
        return best
    return fn


def _bi_round(x: object, ndigits: object = None) -> object:
    x = _num_arg("round", x, "x")
    if ndigits is None:
        return round(x)
    n = _int_arg("round", ndigits, "ndigits")
    if abs(n) > MAX_ROUND_DIGITS:
        raise ExprError(f"round() ndigits must be between -{MAX_ROUND_DIGITS} and {MAX_ROUND_DIGITS}, got {n}")
    return round(x, n)


def _bi_int(x: object) -> int:
    if isinstance(x, str):
        try:
            return int(x.strip())
        except ValueError:
            raise ExprError(f"int() cannot read {_short(x)!r} as an int") from None
    return int(_num_arg("int", x))


def _bi_float(x: object) -> float:
    if isinstance(x, str):
        try:
            return float(x.strip())
        except ValueError:
            raise ExprError(f"float() cannot read {_short(x)!r} as a float") from None
    return float(_num_arg("float", x))


def _bi_make_divisible(v: object, divisor: object, min_value: object = None) -> int:
    """MobileNet's `_make_divisible`: round v to a multiple of divisor, dropping at most 10%."""
    v = _num_arg("make_divisible", v, "v")
    d = _int_arg("make_divisible", divisor, "divisor")
    if d <= 0:
        raise ExprError(f"make_divisible() divisor must be positive, got {d}")
    if min_value is not None:
        min_value = _int_arg("make_divisible", min_value, "min_value")
    new_v = max(min_value or d, int(v + d / 2) // d * d)
    if new_v < 0.9 * v:
        new_v += d
    return new_v


_BUILTINS: dict[str, _Builtin] = {
    b.name: b for b in [
        _Builtin("min", _bi_extreme("min", True), (), 2, varargs=True),
        _Builtin("max", _bi_extreme("max", False), (), 2, varargs=True),
        _Builtin("round", _bi_round, ("x", "ndigits"), 1),
        _Builtin("int", _bi_int, ("x",), 1),
        _Builtin("float", _bi_float, ("x",), 1),
        _Builtin("abs", lambda x: abs(_num_arg("abs", x)), ("x",), 1),
        _Builtin("ceil", lambda x: math.ceil(_num_arg("ceil", x)), ("x",), 1),
        _Builtin("floor", lambda x: math.floor(_num_arg("floor", x)), ("x",), 1),
        _Builtin("make_divisible", _bi_make_divisible, ("v", "divisor", "min_value"), 2,
                 keywords=frozenset({"divisor", "min_value"})),
    ]
}


# --------------------------------------------------------------------------------------------
# the interpreter


class _Evaluator:
    def __init__(self, src: str, scope: Mapping[str, object]) -> None:
        self.src = src
        self.scope = scope

    def seg(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.src, node) or self.src

    def eval(self, node: ast.AST) -> Any:
        kind = type(node)
        if kind is ast.Constant:
            return _bounded(node.value, self.seg(node))
        if kind is ast.Name:
            return self.name(node)
        if kind is ast.BinOp:
            return self.binop(node)
        if kind is ast.UnaryOp:
            return self.unaryop(node)
        if kind is ast.BoolOp:
            return self.boolop(node)
        if kind is ast.Compare:
            return self.compare(node)
        if kind is ast.IfExp:
            cond = _need_bool(self.eval(node.test), "the condition of 'if'", self.seg(node.test))
            return self.eval(node.body if cond else node.orelse)
        if kind is ast.Call:
            return self.call(node)
        if kind is ast.Subscript:
            return self.subscript(node)
        raise ExprError(f"{kind.__name__} is not allowed in expressions")  # pragma: no cover

    def name(self, node: ast.Name, missing_is_null: bool = False) -> Any:
        if node.id in RESERVED:
            return RESERVED[node.id]
        try:
            value = self.scope[node.id]
        except KeyError:
            raise ExprError(f"unknown name '{node.id}'", hint=did_you_mean(node.id, self.scope)) from None
        if isinstance(value, Unavailable):
            if missing_is_null:
                return None
            raise ExprError(value.reason, value.hint)
        if isinstance(value, float) and math.isnan(value):
            raise ExprError(f"param '{node.id}' is not a number (nan)", hint="numbers in a spec must be finite")
        if _is_num(value) and (isinstance(value, float) and not math.isfinite(value)
                               or abs(value) > MAX_MAGNITUDE):
            raise ExprError(f"value too large: param '{node.id}' is {value!r}")
        return value

    def binop(self, node: ast.BinOp) -> Any:
        a = self.eval(node.left)
        b = self.eval(node.right)
        op = type(node.op)
        sym = _BINOPS[op]
        where = self.seg(node)
        if op is ast.Add and isinstance(a, str) and isinstance(b, str):
            return _bounded(a + b, where)
        if not (_is_num(a) and _is_num(b)):
            raise _operand_error(sym, a, b, where)
        try:
            if op is ast.Add:
                r = a + b
            elif op is ast.Sub:
                r = a - b
            elif op is ast.Mult:
                r = a * b
            elif op is ast.Div:
                r = a / b
            elif op is ast.FloorDiv:
                r = a // b
            elif op is ast.Mod:
                r = a % b
            else:
                if abs(b) > MAX_EXPONENT:
                    raise ExprError(f"value too large in '{_short(where)}' "
                                    f"(exponents are limited to +-{MAX_EXPONENT})")
                r = a ** b
        except ZeroDivisionError:
            raise ExprError(f"division by zero in '{_short(where)}'") from None
        except OverflowError:
            raise _too_large(where) from None
        return _bounded(r, where)

    def unaryop(self, node: ast.UnaryOp) -> Any:
        v = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not _need_bool(v, "the operand of 'not'", self.seg(node.operand))
        sym = _UNARYOPS[type(node.op)]
        if not _is_num(v):
            raise _unary_error(sym, v, self.seg(node))
        return _bounded(-v if isinstance(node.op, ast.USub) else +v, self.seg(node))

    def boolop(self, node: ast.BoolOp) -> bool:
        word = "and" if isinstance(node.op, ast.And) else "or"
        for operand in node.values:
            v = _need_bool(self.eval(operand), f"each side of '{word}'", self.seg(operand))
            if v is (word == "or"):  # short circuit: False for 'and', True for 'or'
                return v
        return word == "and"

    def compare(self, node: ast.Compare) -> bool:
        where = self.seg(node)
        equality = all(type(op) in (ast.Eq, ast.NotEq) for op in node.ops)

        def operand(n: ast.AST) -> Any:  # `in_height == null` asks whether the input has a height
            return self.name(n, missing_is_null=True) if equality and type(n) is ast.Name else self.eval(n)

        left = operand(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            right = operand(comparator)
            kind = type(op)
            if kind is ast.Eq:
                ok = _equal(left, right, where)
            elif kind is ast.NotEq:
                ok = not _equal(left, right, where)
            else:
                _orderable(_CMPOPS[kind], left, right, where)
                if kind is ast.Lt:
                    ok = left < right
                elif kind is ast.LtE:
                    ok = left <= right
                elif kind is ast.Gt:
                    ok = left > right
                else:
                    ok = left >= right
            if not ok:
                return False
            left = right
        return True

    def subscript(self, node: ast.Subscript) -> Any:
        items = node.value.elts  # type: ignore[attr-defined]  # a literal list (checked by _check_nodes)
        i = self.eval(node.slice)
        where = self.seg(node)
        if not isinstance(i, int) or isinstance(i, bool):
            raise ExprError(f"a list index must be an int, got {_kind(i)} in '{_short(where)}'",
                            hint="use // for integer division" if isinstance(i, float) else "")
        if not -len(items) <= i < len(items):
            raise ExprError(f"index {i} is out of range for a list of {len(items)} items in '{_short(where)}'",
                            hint=f"indexes run from 0 to {len(items) - 1}" if items else "the list is empty")
        return self.eval(items[i])

    def call(self, node: ast.Call) -> Any:
        builtin = _BUILTINS[node.func.id]  # type: ignore[attr-defined]  # checked by _check_calls
        args = [self.eval(a) for a in node.args]
        kwargs = {kw.arg: self.eval(kw.value) for kw in node.keywords}
        where = self.seg(node)
        try:
            result = builtin.fn(*args, **kwargs)
        except ZeroDivisionError:  # pragma: no cover - divisors are checked
            raise ExprError(f"division by zero in '{_short(where)}'") from None
        except OverflowError:
            raise _too_large(where) from None
        return _bounded(result, where)
