"""One msrun worker of `train(..., workers=N)`: `python -m archspec.training.worker RUN/run.json`.

Host setup first (the oneDNN ISA fix must precede MindSpore's first kernel), then joins the msrun
cluster and runs the plan as its rank. Rank 0 writes `RUN/result.json` (the TrainReport); a
worker that fails on a user-level problem writes `RUN/error.json` (the first one wins) and exits
with status 2.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from archspec.errors import SpecError, SpecErrors


def _write_once(path: Path, data: dict) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)


def main(argv: list[str] | None = None) -> int:
    from archspec.runtime.host import setup
    from archspec.training.launch import ERROR, RESULT, init_distributed
    from archspec.training.plan import load_plan

    run_file = Path((argv or sys.argv[1:])[0])
    folder = run_file.parent
    try:
        plan = load_plan(folder, option=str(run_file))
        setup(plan.device, plan.mode)
        rank, world = init_distributed()
        from archspec.training.loop import run

        report = run(plan, rank=rank, world=world)
    except (SpecError, SpecErrors) as e:
        first = e.errors[0] if isinstance(e, SpecErrors) else e
        _write_once(folder / ERROR, {"message": first.message, "hint": first.hint, "path": first.path,
                                     "loc": [first.loc.file, first.loc.line, first.loc.col] if first.loc else None})
        print(e.render(), file=sys.stderr)
        return 2
    if rank == 0:
        tmp = folder / f".{RESULT}.tmp"
        tmp.write_text(json.dumps(asdict(report)), encoding="utf-8")
        os.replace(tmp, folder / RESULT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
