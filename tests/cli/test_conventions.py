"""The same conventions in every command: -h, one meaning per short flag, --json, --device and --layout
choices."""
from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from archspec.cli import app

ROOT = typer.main.get_command(app)


def _commands(group=ROOT, prefix=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, prefix + (name,))
        else:
            yield prefix + (name,), cmd


COMMANDS = dict(_commands())
# commands whose job is a file or the terminal itself; every other command can print JSON
NO_JSON = {("graph",), ("schema",)}


def test_every_command_is_listed():
    names = {" ".join(k) for k in COMMANDS}
    assert {"validate", "build", "resolve", "compile", "export", "profile", "predict", "graph", "schema", "ops",
            "diff", "specs", "weights import", "weights show"} <= names


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_dash_h_prints_help(path):
    r = CliRunner().invoke(app, [*path, "-h"])
    assert r.exit_code == 0, r.output
    assert "Usage:" in r.output and "--help" in r.output


def test_each_short_flag_means_one_thing_everywhere():
    meaning: dict[str, set[str]] = {}
    for path, cmd in COMMANDS.items():
        for p in cmd.params:
            longs = [o for o in p.opts if o.startswith("--")]
            for short in (o for o in p.opts if len(o) == 2 and o.startswith("-")):
                meaning.setdefault(short, set()).update(longs)
    assert all(len(longs) == 1 for longs in meaning.values()), meaning
    assert meaning.get("-w") == {"--weights"} and meaning.get("-s") == {"--set"} and meaning.get("-o") == {"--out"}


@pytest.mark.parametrize("path", sorted(p for p in COMMANDS if p not in NO_JSON), ids=" ".join)
def test_json_is_a_flag_that_prints_on_stdout(path):
    opts = {o: p for p in COMMANDS[path].params for o in p.opts}
    assert "--json" in opts, f"{' '.join(path)} has no --json"
    assert opts["--json"].is_flag, "--json takes no file: it prints on stdout (redirect it to save it)"


def test_device_lists_its_choices():
    for path, cmd in COMMANDS.items():
        for p in cmd.params:
            if "--device" in p.opts:
                r = CliRunner().invoke(app, [*path, "-h"])
                assert "cpu|gpu|ascend" in r.output.lower().replace(" ", ""), (path, r.output)


def test_layout_choices_are_the_readers_layouts():
    from archspec.data.layouts import LAYOUTS

    with_layout = [path for path, cmd in COMMANDS.items() for p in cmd.params if "--layout" in p.opts]
    assert sorted(with_layout) == [("eval",), ("train",)]
    for path in with_layout:
        r = CliRunner().invoke(app, [*path, "-h"])
        assert f"<{'|'.join(LAYOUTS)}>" in r.output.replace(" ", ""), (path, r.output)
    r = CliRunner().invoke(app, ["eval", "s.yaml", "-w", "w.ckpt", "--data", ".", "--layout", "coco"])
    assert r.exit_code == 2 and "coco" in r.output and "voc" in r.output
