"""Tests for the safe `${...}` expression evaluator (archspec.spec.expr)."""
from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archspec.spec.expr import ExprError, evaluate, is_expr, names_in, render

SCOPE = {
    "width": 0.75,
    "output_stride": 16,
    "edge": True,
    "num_classes": 19,
    "name": "resnet",
    "zero": 0,
    "nothing": None,
    "big": 2**62,
}


def ev(text: str, **extra: object) -> object:
    return evaluate(text, {**SCOPE, **extra})


def err(text: str, **extra: object) -> ExprError:
    with pytest.raises(ExprError) as info:
        evaluate(text, {**SCOPE, **extra})
    return info.value


def reference_make_divisible(v, divisor, min_value=None):
    """torchvision / TF MobileNet `_make_divisible`, verbatim."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


# ------------------------------------------------------------------------------------------
# ExprError and is_expr


def test_expr_error_fields():
    e = ExprError("boom", hint="try this")
    assert e.message == "boom" and e.hint == "try this"
    assert "boom" in str(e) and "try this" in str(e)
    assert ExprError("plain").hint == ""
    assert str(ExprError("plain")) == "plain"


@pytest.mark.parametrize("value,expected", [
    ("${x}", True), ("head_${n}", True), ("$${x}", True), ("plain", False), ("$x", False),
    ("{x}", False), (3, False), (None, False), (["${x}"], False),
])
def test_is_expr(value, expected):
    assert is_expr(value) is expected


# ------------------------------------------------------------------------------------------
# literals and names


@pytest.mark.parametrize("text,expected", [
    ("1", 1), ("-3", -3), ("+3", 3), ("1.5", 1.5), ("1e-3", 0.001), ("0x10", 16), ("1_000", 1000),
    ("true", True), ("false", False), ("True", True), ("False", False),
    ("null", None), ("None", None),
    ("'abc'", "abc"), ('"abc"', "abc"), ("''", ""),
    ("  42  ", 42), ("1 +\n 2", 3),
])
def test_literals(text, expected):
    result = ev(text)
    assert result == expected and type(result) is type(expected)


def test_names_come_from_scope():
    assert ev("width") == 0.75
    assert ev("output_stride") == 16
    assert ev("name") == "resnet"
    assert ev("nothing") is None


def test_reserved_words_cannot_be_shadowed():
    scope = {"true": 0, "false": 1, "null": 2, "True": 3, "None": 4}
    assert evaluate("true", scope) is True
    assert evaluate("false", scope) is False
    assert evaluate("null", scope) is None
    assert evaluate("True", scope) is True
    assert evaluate("None", scope) is None


def test_unknown_name_with_hint():
    e = err("widht * 2")
    assert e.message == "unknown name 'widht'"
    assert e.hint == "did you mean 'width'?"


def test_unknown_name_in_untaken_branch_is_still_reported():
    e = err("1 if true else typo_name")
    assert "unknown name 'typo_name'" in e.message


def test_unknown_name_in_empty_scope():
    with pytest.raises(ExprError, match="unknown name 'x'"):
        evaluate("x", {})


def test_scope_may_be_any_mapping():
    from types import MappingProxyType

    assert evaluate("a + 1", MappingProxyType({"a": 1})) == 2


# ------------------------------------------------------------------------------------------
# arithmetic


@pytest.mark.parametrize("text,expected", [
    ("1 + 2", 3), ("5 - 7", -2), ("6 * 7", 42), ("7 / 2", 3.5), ("7 // 2", 3), ("-7 // 2", -4),
    ("7 % 3", 1), ("-7 % 3", 2), ("2 ** 10", 1024), ("2 ** -1", 0.5), ("2 ** 0.5", 2 ** 0.5),
    ("6 * 16 // output_stride", 6), ("32 * width", 24.0), ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9),
    ("-(2 + 3)", -5), ("--2", 2), ("7.5 // 2", 3.0), ("7.5 % 2", 1.5), ("2 ** 63", 2**63),
    ("-2 ** 63", -(2**63)), ("big + big", 2**63),
])
def test_arithmetic(text, expected):
    result = ev(text)
    assert result == expected and type(result) is type(expected)


def test_true_division_is_always_float():
    result = ev("64 / 2")
    assert result == 32.0 and isinstance(result, float)


def test_string_concatenation():
    assert ev("name + '_head'") == "resnet_head"
    assert ev("'a' + 'b' + 'c'") == "abc"


@pytest.mark.parametrize("text", ["1 / zero", "1 // zero", "1 % zero", "1.5 / 0.0", "1.5 % 0", "zero ** -1",
                                  "0.0 ** -2"])
def test_division_by_zero(text):
    e = err(text)
    assert e.message.startswith("division by zero in '")


def test_division_by_zero_names_the_expression():
    assert err("6 * 16 // zero").message == "division by zero in '6 * 16 // zero'"


# ------------------------------------------------------------------------------------------
# type rules


@pytest.mark.parametrize("text", ["true + 1", "1 + false", "-true", "+false", "true * 2", "edge / 2",
                                  "true < 2"])
def test_bools_are_not_numbers(text):
    assert "booleans are not numbers" in err(text).message


@pytest.mark.parametrize("text", ["'a' * 3", "'a' - 'b'", "name + 1", "1 + name", "'a' / 2", "'a' % 2",
                                  "'a' ** 2", "-'a'"])
def test_string_arithmetic_is_rejected(text):
    with pytest.raises(ExprError, match="cannot apply"):
        ev(text)


@pytest.mark.parametrize("text", ["nothing + 1", "null * 2", "-null"])
def test_null_arithmetic_is_rejected(text):
    with pytest.raises(ExprError, match="null"):
        ev(text)


def test_non_scalar_scope_values():
    assert ev("xs", xs=[1, 2]) == [1, 2]  # a bare reference passes the value through
    with pytest.raises(ExprError, match="cannot apply"):
        ev("xs + 1", xs=[1, 2])
    with pytest.raises(ExprError, match="cannot compare"):
        ev("xs == 1", xs=[1, 2])


# ------------------------------------------------------------------------------------------
# comparisons, logic, conditionals


@pytest.mark.parametrize("text,expected", [
    ("1 < 2", True), ("2 <= 2", True), ("3 > 4", False), ("4 >= 4", True), ("1 == 1.0", True),
    ("1 != 2", True), ("1 < 2 < 3", True), ("1 < 3 < 2", False), ("3 > 2 > 2", False),
    ("1 < 1.5 <= 2", True), ("'a' < 'b'", True), ("name == 'resnet'", True), ("nothing == null", True),
    ("nothing != null", False), ("1 == '1'", False), ("true == 1", False), ("null == 0", False),
    ("edge == true", True), ("output_stride == 16", True),
])
def test_comparisons(text, expected):
    assert ev(text) is expected


@pytest.mark.parametrize("text", ["1 < 'a'", "null < 1", "true < false", "'a' >= 1"])
def test_ordering_mixed_kinds_is_rejected(text):
    with pytest.raises(ExprError, match="cannot compare"):
        ev(text)


@pytest.mark.parametrize("text,expected", [
    ("true and false", False), ("true or false", True), ("not true", False), ("not not edge", True),
    ("edge and output_stride == 16", True), ("false and 1 / zero == 1", False),  # short circuit
    ("true or 1 / zero == 1", True), ("1 < 2 and 2 < 3 and 3 < 4", True),
])
def test_logic(text, expected):
    assert ev(text) is expected


@pytest.mark.parametrize("text", ["not 0", "1 and true", "true and 1", "false or 'x'", "1 if 1 else 2",
                                  "1 if nothing else 2"])
def test_logic_needs_booleans(text):
    with pytest.raises(ExprError, match="must be a boolean"):
        ev(text)


def test_conditional():
    assert ev("'relu6' if edge else 'relu'") == "relu6"
    assert ev("'relu6' if edge else 'relu'", edge=False) == "relu"
    assert ev("1 if false else 2 if true else 3") == 2
    assert ev("1 if edge else 1 / zero") == 1  # only the chosen branch is evaluated


# ------------------------------------------------------------------------------------------
# builtins


@pytest.mark.parametrize("text,expected", [
    ("min(3, 1, 2)", 1), ("max(3, 1, 2)", 3), ("min(1, 0.5)", 0.5), ("max(2, 2.0)", 2),
    ("max('a', 'b')", "b"), ("round(2.4)", 2), ("round(2.5)", 2), ("round(3.5)", 4), ("round(-2.6)", -3),
    ("round(3.14159, 2)", 3.14), ("round(1234, -2)", 1200), ("int(3.9)", 3), ("int(-3.9)", -3),
    ("int('42')", 42), ("float(3)", 3.0), ("float('2.5')", 2.5), ("abs(-3)", 3), ("abs(-2.5)", 2.5),
    ("ceil(2.1)", 3), ("floor(2.9)", 2), ("ceil(-2.1)", -2), ("floor(4)", 4),
    ("make_divisible(32 * width, 8)", 24), ("make_divisible(60, divisor=8)", 64),
])
def test_builtins(text, expected):
    result = ev(text)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("v,divisor,min_value", [
    (32 * 0.75, 8, None), (16 * 0.35, 8, None), (24, 8, None), (100, 8, None), (91, 8, None),
    (3.9, 8, None), (67.2, 8, None), (1280 * 1.4, 8, None), (10, 16, None), (37, 3, 12), (5, 8, 0),
    (1000.3, 64, None), (0, 8, None), (255.9, 32, 64), (11.5, 8, None),
])
def test_make_divisible_matches_reference(v, divisor, min_value):
    scope = {"v": v}
    if min_value is None:
        got = evaluate(f"make_divisible(v, {divisor})", scope)
    else:
        got = evaluate(f"make_divisible(v, {divisor}, min_value={min_value})", scope)
        assert evaluate(f"make_divisible(v, {divisor}, {min_value})", scope) == got
    assert got == reference_make_divisible(v, divisor, min_value)
    assert isinstance(got, int)


def test_make_divisible_known_values():
    assert ev("make_divisible(32 * 0.75, 8)") == 24
    assert ev("make_divisible(16 * 0.35, 8)") == 8
    assert ev("make_divisible(60, divisor=8)") == 64
    assert ev("make_divisible(5, 8, min_value=16)") == 16


@given(v=st.floats(min_value=0, max_value=1e6, allow_nan=False), divisor=st.integers(1, 128),
       min_value=st.one_of(st.none(), st.integers(1, 256)))
def test_make_divisible_property(v, divisor, min_value):
    got = evaluate("make_divisible(v, d, min_value=m)", {"v": v, "d": divisor, "m": min_value})
    assert got == reference_make_divisible(v, divisor, min_value)


@pytest.mark.parametrize("text,match", [
    ("make_divisible(10, 0)", "divisor must be positive"),
    ("make_divisible(10, 2.5)", "needs an int for divisor"),
    ("make_divisible(true, 8)", "needs a number"),
    ("make_divisible(10)", "missing argument 'divisor'"),
    ("make_divisible(10, 8, 1, 2)", "takes 2 to 3 arguments"),
    ("make_divisible(10, 8, min_value=1, min_value=2)", "keyword argument 'min_value' twice"),
    ("make_divisible(10, 8, 16, min_value=2)", "multiple values for 'min_value'"),
    ("make_divisible(v=10, divisor=8)", "unexpected keyword argument 'v'"),
    ("min(1)", "at least 2 arguments"),
    ("max()", "at least 2 arguments"),
    ("min(1, 2, key=abs)", "no keyword arguments"),
    ("min(1, 'a')", "all numbers or all strings"),
    ("max(true, false)", "booleans are not numbers"),
    ("round()", "missing argument 'x'"),
    ("round(1, 2, 3)", "takes 1 to 2 arguments"),
    ("round(1.5, ndigits=1)", "unexpected keyword argument 'ndigits'"),
    ("round(1.5, 0.5)", "needs an int for ndigits"),
    ("round(5, -10 ** 18)", "ndigits must be between"),
    ("round('a')", "needs a number"),
    ("int(true)", "booleans are not numbers"),
    ("int(null)", "needs a number"),
    ("int('x')", "cannot read"),
    ("int(long_digits)", "value too large"),
    ("int(too_many_digits)", "cannot read"),
    ("float('nan')", "is not a number"),
    ("float('inf')", "value too large"),
    ("float('1e400')", "value too large"),
    ("abs('a')", "needs a number"),
    ("abs(1, 2)", "exactly 1 argument"),
    ("ceil(false)", "booleans are not numbers"),
])
def test_builtin_misuse(text, match):
    with pytest.raises(ExprError, match=match):
        ev(text, long_digits="1" * 400, too_many_digits="1" * 9000)


@pytest.mark.parametrize("text,match", [
    ("__import__('os')", "unknown function '__import__'"),
    ("eval('1')", "unknown function 'eval'"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("mni(1, 2)", "unknown function 'mni'"),
    ("width(2)", "'width' is a param, not a function"),
    ("(lambda: 1)()", "lambda is not allowed"),
    ("(1)(2)", "only builtin functions can be called"),
    ("'abc'.upper()", "attribute access is not allowed"),
    ("min(*[1, 2])", "starred argument"),
    ("make_divisible(1, **{'divisor': 8})", "keyword unpacking"),
])
def test_calls_to_non_builtins_are_rejected(text, match):
    with pytest.raises(ExprError, match=match):
        ev(text)


def test_unknown_function_hint():
    assert err("mni(1, 2)").hint == "did you mean 'min'?"


def test_scope_entry_named_like_a_builtin():
    # as a value the param is used; in call position the builtin is used
    assert evaluate("min + min(1, 2)", {"min": 10}) == 11


# ------------------------------------------------------------------------------------------
# forbidden constructs


@pytest.mark.parametrize("text,construct", [
    ("().__class__", "attribute access"),
    ("x.y", "attribute access"),
    ("width.real", "attribute access"),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access"),
    ("name[0]", "indexing anything but a literal list"),
    ("name[1:2]", "indexing anything but a literal list"),
    ("[1, 2][0:1]", "slicing"),
    ("[[1]][0][0]", "indexing anything but a literal list"),
    ("lambda: 1", "lambda"),
    ("[x for x in 'ab']", "comprehension"),
    ("{x for x in 'ab'}", "comprehension"),
    ("{x: 1 for x in 'ab'}", "comprehension"),
    ("(x for x in 'ab')", "generator expression"),
    ("f'{width}'", "f-string"),
    ("(y := 1)", "assignment"),
    ("[1, 2]", "a list value"),
    ("max([1, 2])", "a list value"),
    ("(1, 2)", "tuple"),
    ("()", "tuple"),
    ("{1, 2}", "set literal"),
    ("{'a': 1}", "dict literal"),
    ("1j", "complex number"),
    ("b'x'", "bytes literal"),
    ("...", "'...'"),
    ("await x", "await"),
    ("1 << 2", "operator '<<'"),
    ("1 >> 2", "operator '>>'"),
    ("1 & 2", "operator '&'"),
    ("1 | 2", "operator '|'"),
    ("1 ^ 2", "operator '\\^'"),
    ("~1", "operator '~'"),
    ("1 @ 2", "operator '@'"),
    ("'a' in name", "operator 'in'"),
    ("'a' not in name", "operator 'not in'"),
    ("nothing is None", "operator 'is'"),
    ("nothing is not None", "operator 'is not'"),
])
def test_forbidden_constructs(text, construct):
    with pytest.raises(ExprError, match=construct) as info:
        ev(text)
    assert "not allowed in expressions" in info.value.message


def test_attribute_access_message():
    assert err("x.y").message == "attribute access is not allowed in expressions"


@pytest.mark.parametrize("text", ["1 +", "(1", "1 2", "import os", "x = 1", "def f(): pass", "if x: 1",
                                  "1; 2", "'unterminated", "\x00", "'\ud800'", ")", "a ! b"])
def test_syntax_errors(text):
    with pytest.raises(ExprError):
        ev(text)


def test_syntax_error_mentions_column():
    e = err("1 + * 2")
    assert "invalid expression" in e.message and "column" in e.message


def test_empty_expression():
    with pytest.raises(ExprError, match="empty expression"):
        ev("   ")


# ------------------------------------------------------------------------------------------
# resource limits


def test_huge_power():
    e = err("9**9**9")
    assert "value too large" in e.message


@pytest.mark.parametrize("text", ["2 ** 65", "2 ** -65", "2.0 ** 100", "10 ** 19", "2 ** 64", "big * 4",
                                  "-big * 4", "99999999999999999999", "1e300", "-1e300", "1e999",
                                  "2 ** 62 * 2 ** 62", "(2 ** 60) ** 2", "1.5 ** 64 * 1e9", "big ** 2",
                                  "1e18 / 1e-300", "1e-300 ** -1"])
def test_value_too_large(text):
    with pytest.raises(ExprError, match="value too large"):
        ev(text)


def test_negative_base_fractional_power():
    with pytest.raises(ExprError, match="not a real number"):
        ev("(-8) ** 0.5")


def test_huge_scope_values_are_rejected():
    with pytest.raises(ExprError, match="value too large"):
        ev("x + 1", x=10**100)
    with pytest.raises(ExprError, match="value too large"):
        ev("x", x=float("inf"))


def test_string_repetition_bomb():
    with pytest.raises(ExprError, match="only arithmetic on strings is str \\+ str"):
        ev("'a' * 10 ** 9")


def test_string_growth_is_bounded():
    with pytest.raises(ExprError, match="value too large"):
        ev("s + s", s="x" * 6000)


def test_deeply_nested_parentheses():
    start = time.perf_counter()
    with pytest.raises(ExprError):
        ev("(" * 1000 + "1" + ")" * 1000)
    with pytest.raises(ExprError):
        ev("(" * 240 + "1" + ")" * 240)  # under the length limit: the parser refuses it
    assert ev("(" * 50 + "1" + ")" * 50) == 1
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("text", ["-" * 400 + "1", "not " * 110 + "true", "[" * 240 + "]" * 240,
                                  "-(" * 160 + "1" + ")" * 160])
def test_deep_or_big_trees_are_rejected(text):
    assert len(text) <= 500
    with pytest.raises(ExprError):
        ev(text)


def test_nesting_within_limits_works():
    assert ev("-" * 90 + "1") == 1
    assert ev("not " * 90 + "true") is True
    assert ev("1" + " if true else 1" * 30) == 1
    assert ev("min(" * 60 + "1" + ", 2)" * 60) == 1


def test_node_count_limit():
    text = "+".join(["1"] * 200)  # 399 characters, 399 nodes
    assert len(text) <= 500
    with pytest.raises(ExprError, match="too big"):
        ev(text)
    assert ev("+".join(["1"] * 100)) == 100


def test_very_long_input():
    with pytest.raises(ExprError, match="too long"):
        ev("1 + " * 200 + "1")
    with pytest.raises(ExprError, match="too long"):
        ev("'" + "a" * 10**6 + "'")


# ------------------------------------------------------------------------------------------
# render


def test_render_passes_non_expressions_through():
    marker = object()
    assert render(marker, SCOPE) is marker
    assert render(3, SCOPE) == 3
    assert render(None, SCOPE) is None
    assert render("plain text", SCOPE) == "plain text"
    assert render("cost $5 {x}", SCOPE) == "cost $5 {x}"
    lst = ["${width}"]
    assert render(lst, SCOPE) is lst


@pytest.mark.parametrize("text,expected", [
    ("${width}", 0.75), ("${output_stride}", 16), ("${edge}", True), ("${name}", "resnet"),
    ("${nothing}", None), ("  ${num_classes}  ", 19), ("${ 1 + 2 }", 3), ("${64 / 2}", 32.0),
    ("${make_divisible(32 * width, 8)}", 24), ("${6 * 16 // output_stride}", 6),
    ("${'relu6' if edge else 'relu'}", "relu6"), ("${'}'}", "}"), ('${"a}b" + "{"}', "a}b{"),
    ("${'it\\'s}'}", "it's}"),
])
def test_render_whole_value_is_typed(text, expected):
    result = render(text, SCOPE)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("text,expected", [
    ("head_${num_classes}", "head_19"),
    ("${name}_${num_classes}", "resnet_19"),
    ("w=${width} s=${output_stride}", "w=0.75 s=16"),
    ("${edge}/${not edge}", "true/false"),
    ("${64 / 2}x", "32.0x"),
    ("${0.1 + 0.2}", 0.1 + 0.2),
    ("[${0.1 + 0.2}]", "[0.30000000000000004]"),
    ("n=${nothing}", "n=null"),
    ("${1}${2}", "12"),
    ("$${x}", "${x}"),
    ("cost $${x} is ${output_stride}", "cost ${x} is 16"),
    ("$${", "${"),
    ("a $ b ${1}", "a $ b 1"),
])
def test_render_templates(text, expected):
    assert render(text, SCOPE) == expected


def test_render_escaped_only_is_a_string():
    assert render("  $${width}  ", SCOPE) == "  ${width}  "


@pytest.mark.parametrize("text", ["${width", "a ${", "${'}", "head_${n} ${x", "${}"])
def test_render_unterminated_or_empty(text):
    with pytest.raises(ExprError):
        render(text, {"n": 1, "x": 2})


def test_render_unterminated_message():
    with pytest.raises(ExprError, match="unterminated"):
        render("head_${num_classes", SCOPE)


def test_render_errors_propagate():
    with pytest.raises(ExprError, match="unknown name 'widht'"):
        render("x_${widht}", SCOPE)
    with pytest.raises(ExprError, match="division by zero"):
        render("${1 // zero}", SCOPE)


def test_render_cannot_embed_lists():
    with pytest.raises(ExprError, match="cannot put a list into text"):
        render("x_${xs}", {"xs": [1]})


# ------------------------------------------------------------------------------------------
# names_in


@pytest.mark.parametrize("text,expected", [
    ("${width}", {"width"}),
    ("${make_divisible(32 * width, divisor)}", {"width", "divisor"}),
    ("head_${num_classes}_${name}", {"num_classes", "name"}),
    ("${'relu6' if edge else act}", {"edge", "act"}),
    ("${true and null == None}", set()),
    ("${min(a, max(b, c))}", {"a", "b", "c"}),
    ("${make_divisible(v, 8, min_value=m)}", {"v", "m"}),
    ("${'width'}", set()),
    ("$${width}", set()),
    ("plain", set()),
    ("width", set()),
    (3, set()),
    (None, set()),
])
def test_names_in(text, expected):
    assert names_in(text) == expected


@pytest.mark.parametrize("text", ["${x.y}", "${1 +}", "${a", "${__import__('os')}"])
def test_names_in_rejects_malformed(text):
    with pytest.raises(ExprError):
        names_in(text)


# ------------------------------------------------------------------------------------------
# properties


def _check_total(text: str) -> None:
    start = time.perf_counter()
    try:
        result = evaluate(text, SCOPE)
    except ExprError as e:
        assert isinstance(e.message, str) and isinstance(e.hint, str)
    else:
        assert result is None or isinstance(result, (bool, int, float, str))
    assert time.perf_counter() - start < 2  # generous: CI machines are noisy


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=600))
def test_evaluate_is_total_on_arbitrary_text(text):
    _check_total(text)


_TOKENS = [
    "1", "0", "2", "64", "9", "1.5", "0.0", "1e308", "-", "+", "*", "/", "//", "%", "**", "(", ")", "(", ")",
    " ", ",", "<", "<=", "==", "!=", ">", ">=", " and ", " or ", "not ", " if ", " else ", "true",
    "false", "null", "None", "'a'", '"b"', "width", "output_stride", "edge", "name", "zero", "nothing",
    "big", "min(", "max(", "round(", "int(", "float(", "abs(", "ceil(", "floor(", "make_divisible(",
    "min_value=", ".", "[", "]", "{", "}", "lambda", ":", "__class__", "x", "=", "'", "\\", "\n",
]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=80).map("".join))
def test_evaluate_is_total_on_token_soup(text):
    _check_total(text)


_leaf = st.sampled_from(["1", "2", "0", "3.5", "0.5", "64", "true", "false", "null", "'s'", "width",
                         "output_stride", "edge", "zero", "big", "name", "nothing"])


def _extend(children):
    binop = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "<", "==", "!=",
                                                  ">=", "and", "or"]), children)
    return st.one_of(
        binop.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"(-{c})"),
        children.map(lambda c: f"(not {c})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(st.sampled_from(["min", "max", "make_divisible"]), children, children)
        .map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(st.sampled_from(["round", "int", "float", "abs", "ceil", "floor"]), children)
        .map(lambda t: f"{t[0]}({t[1]})"),
    )


@settings(max_examples=1000, deadline=None)
@given(st.recursive(_leaf, _extend, max_leaves=40))
def test_evaluate_is_total_on_well_formed_expressions(text):
    _check_total(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("${}'\"$ ab1+")), max_size=60))
def test_render_and_names_in_are_total(text):
    for fn in (lambda t: render(t, {"a": 1, "b": "x", "ab": 2.5}), names_in):
        try:
            fn(text)
        except ExprError:
            pass


@given(a=st.integers(-10**6, 10**6), b=st.integers(-10**6, 10**6))
def test_integer_arithmetic_agrees_with_python(a, b):
    scope = {"a": a, "b": b}
    assert evaluate("a + b * 3 - a", scope) == a + b * 3 - a
    assert evaluate("a < b", scope) is (a < b)
    assert evaluate("min(a, b)", scope) == min(a, b)
    if b:
        assert evaluate("a // b", scope) == a // b
        assert evaluate("a % b", scope) == a % b
        assert math.isclose(evaluate("a / b", scope), a / b)
    else:
        with pytest.raises(ExprError, match="division by zero"):
            evaluate("a // b", scope)


@given(st.floats(-1e6, 1e6, allow_nan=False), st.integers(0, 6))
def test_round_agrees_with_python(x, n):
    assert evaluate("round(x, n)", {"x": x, "n": n}) == round(x, n)
    assert evaluate("round(x)", {"x": x}) == round(x)
