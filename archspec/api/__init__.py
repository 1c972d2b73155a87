"""The Python API: one function per thing the product does, each returning a typed result.

    import archspec

    spec = archspec.load("specs/deeplabv3p.yaml", overrides={"num_classes": 19})
    graph = archspec.resolve(spec)                 # shapes, params, MACs; no MindSpore
    net = archspec.build(graph).net                # a mindspore.nn.Cell
    report = archspec.export("specs/deeplabv3p.yaml", "onnx", "deploy/deeplab.onnx")

Every verb does the checks the CLI relies on and raises `archspec.SpecError`/`SpecErrors` for user
mistakes; the CLI (`archspec.cli`) only parses options, calls one verb and renders its result.
Verbs that run a model go through the one host setup (`archspec.runtime.host.setup`).
"""
from archspec.api.build import BuildResult, build
from archspec.api.common import graph_of, load, resolve
from archspec.api.compile import CompileResult, compile
from archspec.api.doctor import DoctorReport, doctor
from archspec.api.evaluate import EvalReport, evaluate
from archspec.api.export import export
from archspec.api.predict import ImagePrediction, PredictResult, predict
from archspec.api.profile import ProfileReport, profile
from archspec.api.spec import OpInfo, diff, draw, list_ops, schema, specs, validate
from archspec.api.train import TrainReport, train
from archspec.api.weights import WeightListing, import_weights, show_weights
from archspec.profiling.parent import WorkerFailed
from archspec.runtime.export import VerificationError

__all__ = [
    "BuildResult", "CompileResult", "DoctorReport", "EvalReport", "ImagePrediction", "OpInfo", "PredictResult",
    "ProfileReport", "TrainReport", "VerificationError", "WeightListing", "WorkerFailed",
    "build", "compile", "diff", "doctor", "draw", "evaluate", "export", "graph_of", "import_weights", "list_ops",
    "load", "predict", "profile", "resolve", "schema", "show_weights", "specs", "train", "validate",
]
