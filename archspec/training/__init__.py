"""Training and evaluation of a spec's network: recipe (recipe.py), learning-rate schedule,
the compiled step (step.py), the loop with logs and checkpoints (loop.py), metrics, evaluation at
any input size (evaluation.py), pictures (plots.py), msrun launch and workers.

`recipe`, `schedule`, `metrics`, `plan`, `planning` (every check of a run before it starts),
`runlog` need no MindSpore; `step`, `loop`, `evaluation` import it inside their functions or when
imported themselves (only after the host setup).
"""
