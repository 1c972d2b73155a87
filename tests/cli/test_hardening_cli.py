"""Issue 13 (hardening), the command line: control characters from a spec (ids, keys, text values,
option values) never reach the terminal raw, in errors or in output; `--json` is a flag in every
command (it prints JSON on stdout and takes no file, so it can never overwrite one)."""
from __future__ import annotations

import pytest
from conftest import HEAD, write
from typer.main import get_command
from typer.testing import CliRunner

from archspec.cli import app

TITLE = "\x1b]0;pwned\x07"  # set the window title
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"  # write the clipboard (OSC 52)
CSI = "\x9b31m"  # the one-byte C1 form of ESC [
RAW = ("\x1b", "\x07", "\x9b")


def run(*args) -> tuple[int, str]:
    r = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    return r.exit_code, r.output


def assert_escaped(text: str) -> None:
    assert not any(c in text for c in RAW), repr(text)


@pytest.mark.parametrize("where, entry", [
    ("id", '{id: "a' + TITLE.replace("\x1b", "\\e").replace("\x07", "\\a") + '", op: act, fn: relu}'),
    ("reference", '{op: act, fn: relu, in: "' + CLIPBOARD.replace("\x1b", "\\e").replace("\x07", "\\a") + '"}'),
    ("key", '{op: act, fn: relu, "k' + CLIPBOARD.replace("\x1b", "\\e").replace("\x07", "\\a") + '": 1}'),
    ("text value", '{op: act, fn: "' + TITLE.replace("\x1b", "\\e").replace("\x07", "\\a") + '"}'),
    ("op name", '{op: "' + CSI.replace("\x9b", "\\x9b") + '"}'),
])
def test_control_sequences_from_a_spec_are_escaped_in_errors(tmp_path, where, entry):
    p = write(tmp_path, "s.yaml", HEAD + "graph:\n  - " + entry + "\n")
    for command in ("validate", "resolve"):
        code, output = run(command, p)
        assert code == 2, output
        assert_escaped(output)
        assert "\\x1b" in output or "\\x9b" in output, output


def test_control_sequences_in_option_values_and_names_are_escaped(tmp_path):
    p = write(tmp_path, "s.yaml", HEAD + "params: {width: 4}\ngraph:\n  - {op: conv, out: '${width}', k: 1}\n")
    for args in (["validate", p, "--set", f"width={TITLE}"], ["validate", p, "--set", f"w{CLIPBOARD}=1"],
                 ["validate", p, f"--x{TITLE}"], ["build", p, "--device", CLIPBOARD],
                 ["validate", tmp_path / f"nope{TITLE}.yaml"]):
        code, output = run(*args)
        assert code == 2, output
        assert_escaped(output)


def test_control_sequences_in_successful_output_are_escaped(tmp_path):
    p = write(tmp_path, "s.yaml", "archspec: 1\nname: t\ndescription: \"d\\e]0;x\\a\"\n"
              "input: {image: [1, 3, 8, 8]}\ngraph:\n  - {id: a, op: act, fn: relu, doc: \"\\e]52;c;eA==\\a\"}\n")
    for command in ("validate", "resolve"):
        code, output = run(command, p)
        assert code == 0, output
        assert_escaped(output)


def test_esc_covers_c0_c1_and_bidi_controls():
    from archspec.cli.app import esc

    text = esc("a\x1b]0;t\x07b\x9bc\u202ed\u2066e\nf\tg")
    assert text == "a\\x1b]0;t\\x07b\\x9bc\\u202ed\\u2066e\nf\tg"


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):  # a group such as `weights`
            yield from _commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,), cmd


def test_json_is_a_flag_in_every_command():
    found = 0
    for name, cmd in _commands(get_command(app)):
        for param in cmd.params:
            if "--json" in getattr(param, "opts", []):
                found += 1
                assert param.is_flag and not param.multiple, f"{' '.join(name)}: --json takes a value"
    assert found >= 8


def test_profile_json_writes_no_file(tmp_path):
    spec = write(tmp_path, "s.yaml", HEAD + "graph:\n  - {op: act, fn: relu}\n")
    before = spec.read_text()
    code, output = run("profile", spec, "--json", spec)  # the old meaning: write JSON into FILE
    assert code == 2 and "unexpected extra argument" in output.lower(), output
    assert spec.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


@pytest.mark.parametrize("command", ["compile", "export", "profile", "build", "validate"])
def test_a_huge_input_shape_is_refused_at_the_option_before_anything_runs(command):
    from conftest import SPECS

    code, output = run(command, SPECS / "unet.yaml", "--input-shape", "1,3,100000,100000")
    assert code == 2 and output.startswith("--input-shape: input.image: input 'image' would have"), output
    assert "internal error" not in output
