"""Packaging hook: the wheel carries the top-level `specs/` folder (shipped specs, `lib/` block
libraries, `maps/` weight maps) as `archspec/specs`, so `archspec:lib/resnet.yaml` names work
after a plain `pip install`. `specs/` stays the one source in git; an editable install reads it
in place (archspec.spec.library.installed_root). Everything else is in pyproject.toml."""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCE = Path(__file__).resolve().parent / "specs"


class build_py_with_specs(build_py):
    def run(self):
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "archspec" / "specs"
        for src in sorted(SOURCE.rglob("*.yaml")):
            dest = target / src.relative_to(SOURCE)
            self.mkpath(str(dest.parent))
            self.copy_file(str(src), str(dest))


setup(cmdclass={"build_py": build_py_with_specs})
