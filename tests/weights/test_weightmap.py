"""Weight maps (archspec/runtime/weightmap.py): the rule language and its positioned errors.

No MindSpore and no PyTorch: maps are plain data applied to lists of names.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from archspec.errors import SpecError, SpecErrors
from archspec.weights.maps import default_map_path, load_map

REPO = Path(__file__).resolve().parents[2]
MAPS = REPO / "specs" / "maps"


def write_map(tmp_path: Path, text: str, name: str = "m.yaml") -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def errors_of(fn, *args, **kwargs) -> list[SpecError]:
    with pytest.raises((SpecError, SpecErrors)) as info:
        fn(*args, **kwargs)
    return list(info.value.errors) if isinstance(info.value, SpecErrors) else [info.value]


def test_placeholders_tables_and_bn_names(tmp_path):
    m = load_map(write_map(tmp_path, """\
        archmap: 1
        tables:
          stage: {1: s1.0, 2: s2.0}
        rules:
          - {from: "features.{b:stage}.conv.weight", to: "{b}.conv.weight"}
          - {from: "layer{s:int}.{b}.bn{k}.{p:bn}", to: "layer{s}.{b}.conv{k}.batchnorm.{p}"}
          - {from: "head.{rest:path}", to: "decoder.{rest}"}
        """))
    names = ["features.1.conv.weight", "features.2.conv.weight", "layer3.0.bn2.running_var",
             "layer3.0.bn2.weight", "layer3.0.bn2.num_batches_tracked", "head.a.b.c", "features.3.conv.weight"]
    res = m.apply(names)
    assert [(s, t) for s, t, _ in res.pairs] == [
        ("features.1.conv.weight", "s1.0.conv.weight"),
        ("features.2.conv.weight", "s2.0.conv.weight"),
        ("layer3.0.bn2.running_var", "layer3.0.conv2.batchnorm.moving_variance"),
        ("layer3.0.bn2.weight", "layer3.0.conv2.batchnorm.gamma"),
        ("head.a.b.c", "decoder.a.b.c"),
    ]
    assert res.ignored == ["layer3.0.bn2.num_batches_tracked"]
    assert res.unmapped == ["features.3.conv.weight"]  # 3 is not a key of the table
    assert res.dead_rules(m.rules) == []


def test_expressions_conditions_order_and_drop(tmp_path):
    m = load_map(write_map(tmp_path, """\
        archmap: 1
        rules:
          - {from: "aux.{x:path}", to: null}
          - from: "cls.{i:int}.weight"
            when: "${i % 3 == 0 and i < 3 * convs}"
            to: "fuse.${i // 3}.conv.weight"
          - from: "cls.{i:int}.{p}"
            when: "${i == 3 * convs}"
            to: "classifier.conv.{p}"
          - {from: "unused.{x}", to: "x.{x}", optional: true}
        """))
    names = ["cls.0.weight", "cls.3.weight", "cls.6.weight", "cls.6.bias", "aux.0.weight", "cls.1.weight"]
    res = m.apply(names, {"convs": 2})
    assert [(s, t) for s, t, _ in res.pairs] == [
        ("cls.0.weight", "fuse.0.conv.weight"), ("cls.3.weight", "fuse.1.conv.weight"),
        ("cls.6.weight", "classifier.conv.weight"), ("cls.6.bias", "classifier.conv.bias")]
    assert [s for s, _ in res.dropped] == ["aux.0.weight"]
    assert res.unmapped == ["cls.1.weight"]
    assert res.dead_rules(m.rules) == []  # the optional rule may match nothing
    # with one decoder conv the same names land elsewhere
    res1 = m.apply(names[:2] + ["cls.3.bias"], {"convs": 1})
    assert [(s, t) for s, t, _ in res1.pairs] == [
        ("cls.0.weight", "fuse.0.conv.weight"), ("cls.3.weight", "classifier.conv.weight"),
        ("cls.3.bias", "classifier.conv.bias")]


def test_dead_rule_is_reported_with_its_line(tmp_path):
    p = write_map(tmp_path, """\
        archmap: 1
        rules:
          - {from: "a.{x}", to: "b.{x}"}
          - {from: "typo.{x}", to: "c.{x}"}
        """)
    m = load_map(p)
    res = m.apply(["a.1"])
    dead = res.dead_rules(m.rules)
    assert [str(r) for r in dead] == ["typo.{x} -> c.{x}"]
    assert (dead[0].loc.file, dead[0].loc.line) == (str(p), 4)


def test_two_sources_on_one_target_is_an_error(tmp_path):
    p = write_map(tmp_path, """\
        archmap: 1
        rules:
          - {from: "{a}.{b}", to: "same.{b}"}
        """)
    errs = errors_of(load_map(p).apply, ["x.w", "y.w"])
    assert "already took" in errs[0].message and errs[0].loc.line == 3


def test_include_and_default_path(tmp_path):
    write_map(tmp_path, "archmap: 1\nrules:\n  - {from: 'head.{x}', to: 'h.{x}'}\n", "lib/head.yaml")
    p = write_map(tmp_path, "archmap: 1\ninclude: [lib/head.yaml]\nrules:\n  - {from: 'x', to: 'y'}\n")
    m = load_map(p)
    assert [r.source for r in m.rules] == ["x", "head.{x}"]  # own rules first
    assert [t for _, t, _ in m.apply(["head.w", "x"]).pairs] == ["h.w", "y"]
    assert default_map_path("specs/deeplabv3p.yaml", "deeplabv3p_resnet50") == Path("specs/maps/deeplabv3p_resnet50.yaml")


@pytest.mark.parametrize("text, needle, line", [
    ("archmap: 1\nrulez: []\n", "unknown key 'rulez'", 2),
    ("rules: [{from: a, to: b}]\n", "missing 'archmap: 1'", 1),
    ("archmap: 2\nrules: [{from: a, to: b}]\n", "unsupported map format version 2", 1),
    ("archmap: 1\nrules:\n  - {from: a}\n", "a rule needs 'to'", 3),
    ("archmap: 1\nrules:\n  - {from: a, to: b, wen: x}\n", "unknown rule key 'wen'", 3),
    ("archmap: 1\nrules:\n  - {from: 'a.{x:nope}', to: b}\n", "unknown placeholder type 'nope'", 3),
    ("archmap: 1\nrules:\n  - {from: 'a.{x}', to: 'b.{y}'}\n", "does not capture", 3),
    ("archmap: 1\nrules:\n  - {from: 'a.{x}.{x}', to: 'b'}\n", "appears twice", 3),
    ("archmap: 1\nrules:\n  - {from: 'a.{x', to: 'b'}\n", "unbalanced brace", 3),
    ("archmap: 1\nrules:\n  - {from: a, to: b, when: yes please}\n", "'when' must be", 3),
    ("archmap: 1\nrules:\n  - {from: 'a', to: 'b.${1 +}'}\n", "to:", 3),
    ("archmap: 1\ninclude: [../x.yaml]\nrules: [{from: a, to: b}]\n", "outside the folder", 2),
    ("archmap: 1\ninclude: [nope.yaml]\nrules: [{from: a, to: b}]\n", "map file not found", 2),
    ("archmap: 1\n", "the map has no rules", 1),
    ("archmap: 1\nrules: [{from: a, to: !!python/object:os.system x}]\n", "not allowed", 2),
])
def test_map_mistakes_are_positioned(tmp_path, text, needle, line):
    p = write_map(tmp_path, text)
    errs = errors_of(load_map, p)
    assert any(needle in e.message and e.loc.file == str(p) and e.loc.line == line for e in errs), \
        [e.render() for e in errs]


def test_include_cycle(tmp_path):
    write_map(tmp_path, "archmap: 1\ninclude: [b.yaml]\nrules: [{from: a, to: b}]\n", "a.yaml")
    write_map(tmp_path, "archmap: 1\ninclude: [a.yaml]\nrules: [{from: c, to: d}]\n", "b.yaml")
    errs = errors_of(load_map, tmp_path / "a.yaml")
    assert "cycle" in errs[0].message


def test_when_with_unknown_name_names_the_rule(tmp_path):
    p = write_map(tmp_path, "archmap: 1\nrules:\n  - {from: 'c.{i:int}', to: 'd', when: '${i < convz}'}\n")
    errs = errors_of(load_map(p).apply, ["c.1"], {"convs": 1})
    assert "unknown name 'convz'" in errs[0].message and errs[0].loc.line == 3
    assert "convs" in errs[0].hint


def test_shipped_maps_load():
    for p in sorted(MAPS.rglob("*.yaml")):
        m = load_map(p)
        assert m.rules, p
        assert m.description, p


def test_weightmap_does_not_import_mindspore_or_torch():
    code = ("import sys; from archspec.weights.maps import load_map; "
            f"load_map({str(MAPS / 'deeplabv3p_resnet50.yaml')!r}).apply(['backbone.conv1.weight'], "
            "{'decoder_convs': 1}); "
            "print('mindspore' in sys.modules, 'torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["False", "False"], r.stderr
