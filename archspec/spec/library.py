"""Where a spec's files come from: the file's own folder, the `ARCHSPEC_PATH` folders, and the
library installed with archspec (the shipped specs, `lib/` block libraries and `maps/` weight
maps). One lookup serves `imports:`, `extends:` and the default weight map.

A name in a spec is one of:

* ``archspec:lib/resnet.yaml``: the installed library only;
* ``/abs/path/x.yaml``: that file (the user wrote where it is);
* ``lib/resnet.yaml``: a plain relative path, looked up in the folder of the file that names
  it, then in each `ARCHSPEC_PATH` folder (``os.pathsep``-separated), then in the installed
  library. It may not climb out of the folder it is found in (``..``, or a symlink that leads
  outside), unless the user passes ``--allow-outside-imports`` (then ``..`` is followed from
  the file's own folder, as written).

Only regular files are read (a FIFO or device would hang or never end).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from archspec.errors import Location, SpecError

PREFIX = "archspec:"
ENV = "ARCHSPEC_PATH"
MAX_EXTENDS = 32  # ancestors followed when looking for a weight map


def installed_root() -> Path | None:
    """The installed library: `archspec/specs` in a wheel (the build copies the top-level
    `specs/` there), else `specs/` beside the package in a source checkout or editable install."""
    package = Path(__file__).resolve().parent.parent
    for root in (package / "specs", package.parent / "specs"):
        if (root / "lib").is_dir():
            return root
    return None


def search_path() -> list[Path]:
    """The `ARCHSPEC_PATH` folders, in order (empty entries ignored; relative ones from the
    current folder)."""
    return [Path(p).absolute() for p in os.environ.get(ENV, "").split(os.pathsep) if p.strip()]


@dataclass(frozen=True)
class Found:
    path: Path  # the real file (symlinks resolved)
    shown: str  # how messages name it
    origin: str  # "folder", "ARCHSPEC_PATH", "library" or "absolute"


def find(target: str, base: Path, loc: Location | None, where: str, *, allow_outside: bool = False) -> Found:
    """The file that `target`, written in the file `base`, names. Raises a SpecError at `loc`."""
    if "\0" in target:
        raise SpecError("a file name cannot contain a NUL character", loc, where)
    if target.startswith(PREFIX):
        return _find_installed(target[len(PREFIX):], target, loc, where)
    p = Path(target)
    if p.is_absolute():
        return Found(_regular(p, target, loc, where), target, "absolute")
    if os.path.normpath(target).split(os.sep)[0] == os.pardir:
        if not allow_outside:
            raise SpecError(f"'{target}' leads outside the folder of {base.name}: a relative path names a file in "
                            "that folder or below it (or on ARCHSPEC_PATH, or in the installed library)",
                            loc, where, "write the file's absolute path, name an installed file as archspec:..., "
                            "add its folder to ARCHSPEC_PATH, or pass --allow-outside-imports")
        return Found(_regular(base.parent / p, str(base.parent / p), loc, where), str(base.parent / p), "folder")
    roots = [(base.parent, "folder"), *((r, "ARCHSPEC_PATH") for r in search_path())]
    lib = installed_root()
    if lib is not None:
        roots.append((lib, "library"))
    for root, origin in roots:
        candidate = root / p
        if not os.path.lexists(candidate):
            continue
        shown = str(candidate)
        real = _regular(candidate, shown, loc, where)
        if not allow_outside and not real.is_relative_to(root.resolve()):
            raise SpecError(f"'{target}' leads outside {root} (through a symbolic link, to {real})", loc, where,
                            "name the real file by its absolute path, or pass --allow-outside-imports")
        return Found(real, shown, origin)
    looked = [str(base.parent)] + [f"{r} ({ENV})" for r in search_path()] + (["the installed library"] if lib else [])
    raise SpecError(f"file not found: '{target}' (looked in {', '.join(looked)})", loc, where,
                    "a relative path is looked up beside the file that names it, then on ARCHSPEC_PATH, then in "
                    "the installed library ('archspec specs' lists it)")


def named_file(path: str | Path, option: str = "SPEC") -> tuple[Path, str]:
    """The file a command names, and how messages show it: a path as given, or `archspec:NAME` for a
    file of the installed library (`archspec build archspec:deeplabv3p.yaml` from any folder)."""
    text = str(path)
    if text.startswith(PREFIX):
        found = _find_installed(text[len(PREFIX):], text, Location(option), "")
        return found.path, found.shown
    return Path(path), text


def _find_installed(rel: str, target: str, loc: Location | None, where: str) -> Found:
    lib = installed_root()
    if lib is None:
        raise SpecError(f"'{target}' names the installed library, but this archspec has none", loc, where,
                        "reinstall archspec from its checkout (pip install .), or name the file by its path")
    if not rel or Path(rel).is_absolute() or os.path.normpath(rel).split(os.sep)[0] == os.pardir:
        raise SpecError(f"'{target}' must name a file inside the installed library, like archspec:lib/resnet.yaml",
                        loc, where, "'archspec specs' lists the installed files")
    candidate = lib / rel
    if not os.path.lexists(candidate):
        from archspec.errors import did_you_mean

        names = [str(f.relative_to(lib)) for f in _yaml_files(lib, recursive=True)]
        raise SpecError(f"'{target}' is not in the installed library", loc, where,
                        did_you_mean(rel, names) or "'archspec specs' lists the installed files")
    return Found(_regular(candidate, str(candidate), loc, where), str(candidate), "library")


def _regular(path: Path, shown: str, loc: Location | None, where: str) -> Path:
    """`path` with symlinks resolved; a SpecError unless it is an existing regular file."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop, a name too long
        raise SpecError(f"cannot follow '{shown}': {getattr(e, 'strerror', None) or e}", loc, where) from None
    if not os.path.lexists(path) or not real.exists():
        raise SpecError(f"file not found: '{shown}'", loc, where, "paths are relative to the file that names them")
    if not real.is_file():
        kind = "a folder" if real.is_dir() else "not a regular file"
        raise SpecError(f"'{shown}' is {kind}", loc, where, "imports and extends name YAML files")
    return real


def _yaml_files(folder: Path, recursive: bool = False) -> list[Path]:
    found = folder.rglob("*.yaml") if recursive else folder.glob("*.yaml")
    return sorted(f for f in found if f.is_file())


# -- weight maps ----------------------------------------------------------------------------------

def find_map(spec_file: str | Path, spec_name: str) -> Path | None:
    """The default weight map of a spec: `maps/<name>.yaml` beside the spec, on ARCHSPEC_PATH, or in
    the installed library; for a spec with no map of its own, the map of the nearest spec it
    extends (a child that changes a few params imports the same tensors)."""
    roots = [Path(spec_file).parent, *search_path()]
    lib = installed_root()
    if lib is not None:
        roots.append(lib)
    for name in [spec_name, *_ancestor_names(Path(spec_file))]:
        for root in roots:
            candidate = root / "maps" / f"{name}.yaml"
            if candidate.is_file():
                return candidate
    return None


def _ancestor_names(spec_file: Path) -> list[str]:
    """Names of the specs `spec_file` extends, nearest first (as far as they can be read: their
    mistakes are the loader's to report)."""
    names: list[str] = []
    current, seen = spec_file, set()
    try:
        raw = _read_yaml(current)
        for _ in range(MAX_EXTENDS):
            parent = raw.get("extends") if isinstance(raw, dict) else None
            if not isinstance(parent, str):
                break
            current = find(parent, current, None, "extends").path
            if current in seen:
                break
            seen.add(current)
            raw = _read_yaml(current)
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                break
            names.append(raw["name"])
    except SpecError:
        pass
    return names


def _read_yaml(path: Path):
    from archspec.spec.yamlsrc import load_yaml, read_text

    return load_yaml(read_text(path, str(path)), str(path))


# -- what is installed ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One installed file: how to name it in a spec, its `name:` and description."""

    ref: str  # "archspec:lib/resnet.yaml"
    name: str
    description: str
    blocks: tuple[tuple[str, str], ...] = ()  # a block library's blocks: (name, doc)

    @property
    def summary(self) -> str:
        """The description, cut at a word to at most 80 characters, for listings."""
        text = self.description
        return text if len(text) <= 80 else text[:77].rsplit(" ", 1)[0] + "..."


@dataclass(frozen=True)
class Installed:
    root: Path | None
    search_path: tuple[Path, ...]
    specs: tuple[Entry, ...]
    libraries: tuple[Entry, ...]
    maps: tuple[Entry, ...]

    def to_json(self) -> dict:
        def entries(items):
            return [{"ref": e.ref, "name": e.name, "description": e.description,
                     **({"blocks": [{"name": b, "doc": d} for b, d in e.blocks]} if e.blocks else {})}
                    for e in items]

        return {"root": str(self.root) if self.root else None, "search_path": [str(p) for p in self.search_path],
                "specs": entries(self.specs), "libraries": entries(self.libraries), "maps": entries(self.maps)}


def installed() -> Installed:
    """What the installed library holds (for `archspec specs`)."""
    root = installed_root()
    if root is None:
        return Installed(None, tuple(search_path()), (), (), ())
    specs = tuple(_entry(root, f) for f in _yaml_files(root))
    libraries = tuple(_entry(root, f) for f in _yaml_files(root / "lib", recursive=True))
    maps = tuple(_entry(root, f) for f in _yaml_files(root / "maps", recursive=True))
    return Installed(root, tuple(search_path()), specs, libraries, maps)


def _entry(root: Path, file: Path) -> Entry:
    ref = PREFIX + file.relative_to(root).as_posix()
    try:
        raw = _read_yaml(file)
    except SpecError as e:
        return Entry(ref, "", f"(cannot be read: {e.message})")
    if not isinstance(raw, dict):
        return Entry(ref, "", "")
    text = raw.get("description")
    description = " ".join(text.split()) if isinstance(text, str) else ""
    blocks = raw.get("blocks")
    found = tuple((str(b), " ".join(str(v.get("doc", "")).split()) if isinstance(v, dict) else "")
                  for b, v in blocks.items()) if isinstance(blocks, dict) else ()
    return Entry(ref, str(raw.get("name", "")), description, found)
