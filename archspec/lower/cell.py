"""Graph -> mindspore.nn.Cell.

`build_cell(graph)` lowers every node with its op's `lower(node)` and wraps the resulting Cells
in one `SpecNet`:

* `self.nodes` is an `nn.CellList` holding one Cell per node, in the graph's topological order;
  `self.node_inputs` holds, per node, a static tuple of value indices (graph inputs are
  0..n_inputs-1, node i's output is n_inputs + i).

* `construct` is straight-line code generated from those tuples when the net is built, one
  statement per node, e.g.::

      def construct(self, x0):
          v0 = self.nodes[0](x0)  # stem: conv(image) @ specs/net.yaml:9:5
          x0 = None
          v1 = self.nodes[1](v0)  # c2.0.conv1: conv(stem) @ ...
          v2 = self.nodes[2](v1, v0)  # c2.0.add: add(c2.0.conv1, stem) @ ...
          ...
          return v41

  Why not a loop over the CellList (as MindYOLO's `Model.construct` does)? The graph compiler
  evaluates such loops recursively. Measured on a conv(bn, relu)/add chain (MindSpore 2.10,
  CPU, 2 cores): the natural loop with an inner loop gathering the arguments exceeds the
  compiler's call-depth limit (1000) at 300 nodes; a loop without the inner loop compiles 300
  nodes in ~17 s and fails at 600, as does `nn.SequentialCell`. This generated code compiles
  300 nodes in ~9 s and 600 in ~28 s, and DeepLabV3+ ResNet-101 (188 nodes after fusion) in
  ~4.5 s, with no depth limit. It is the same code in PYNATIVE and GRAPH mode, without control
  flow, so the compiler sees plain SSA values.

* Memory in PYNATIVE mode: after the last use of a value the generated code rebinds its
  variable to None (`x0 = None` above), so an intermediate is freed as soon as nothing reads it
  (graph outputs are kept). In GRAPH mode these rebinds are no-ops for the compiler, which
  plans memory itself.

* The generated source is written once to a content-addressed file,
  `<tempdir>/archspec-construct-<uid>/<graph name>-<hash>.py`: MindSpore's graph compiler
  reads construct source lines from the file named in the code object (and logs an error per
  node when that file does not exist). It is also registered in `linecache` and attached as
  `construct.source` (MindSpore's parser fallback), so it works if the file cannot be written.
  Each line carries the node's name, op and spec location as a comment, so
  MindSpore's "Traceback of Net Construct Code" and Python tracebacks both show which spec node
  a failure belongs to; `run` and `compile_cell` turn such failures into a `SpecError`.

* Parameter names are `<node name>.<path inside the node's Cell>` (e.g.
  `c3.0.conv2.conv.weight`, `c3.0.conv2.batchnorm.moving_mean`), set on each Parameter after
  building. Node names contain dots, so MindSpore's attribute-path naming cannot produce them;
  `SpecNet.update_parameters_name` is overridden so that a parent Cell that adopts the net as
  an attribute (auto_prefix) prepends its attribute name to these names instead of replacing
  them with `nodes.<i>...` paths.

* The net is built in inference mode (`set_train(False)`: BatchNorm uses its moving
  statistics, dropout is off). Call `net.set_train(True)` to train.
"""
from __future__ import annotations

import hashlib
import linecache
import re
import types
from typing import Any

from mindspore import nn

from archspec.errors import SpecError, error_head
from archspec.graph.ir import Graph, Node, last_readers
from archspec.ops import registry

__all__ = ["SpecNet", "build_cell", "run", "compile_cell", "count_fused", "find_unfused_conv_bn",
           "locate_failure", "replay_nodes"]


# --------------------------------------------------------------------------- building


def build_cell(graph: Graph, *, options: dict[str, str] | None = None) -> "SpecNet":
    """Lower `graph` to a `SpecNet` Cell (in inference mode, see the module docstring).

    The Cell takes the graph inputs positionally in `graph.inputs` order and returns the
    outputs in `graph.outputs` order: one tensor for one output, else a tuple.
    `options` picks among the lowerings an op offers (`OpDef.lower_options`), e.g.
    `{"upsample.bilinear": "matmul"}`; the net's `lower_options` records every op's choices.
    Raises `SpecError` (positioned at the node) when a node cannot be lowered.
    """
    resolved = registry.lower_options(options)
    cells = []
    for node in graph.nodes:
        try:
            op = registry.get(node.op)
        except KeyError:
            raise SpecError(f"node '{node.name}': unknown op '{node.op}'", loc=node.loc, path=node.path,
                            hint=_did_you_mean(node.op)) from None
        try:
            cell = op.lower(node, **resolved[node.op]) if node.op in resolved else op.lower(node)
        except SpecError:
            raise
        except Exception as exc:  # MindSpore's own argument checks, a bug in an op's lowering
            raise SpecError(f"node '{node.name}' (op '{node.op}') could not be lowered to MindSpore: "
                            f"{error_head(exc)}", loc=node.loc, path=node.path) from exc
        if not isinstance(cell, nn.Cell):
            raise TypeError(f"op '{node.op}': lower() returned {type(cell).__name__}, not an nn.Cell")
        cells.append(cell)
    net = SpecNet(graph, cells)
    net.lower_options = {f"{op}.{k}": v for op, opts in resolved.items() for k, v in opts.items()}
    return net


def _did_you_mean(name: str) -> str:
    from archspec.errors import did_you_mean

    return did_you_mean(name, registry.names())


class SpecNet(nn.Cell):
    """A Cell built from an archspec Graph; see the module docstring for how it works.

    Attributes: `nodes` (CellList, topological order), `node_names`, `node_inputs` (static
    tuples of value indices), `input_names`, `output_names`, `spec_graph` (the Graph),
    `construct_source` (the generated construct, for reading) and, when built by `build_cell`,
    `lower_options` (every op's lowering choices, {"upsample.bilinear": "resize"}).
    """

    def __init__(self, graph: Graph, cells: list[nn.Cell]) -> None:
        super().__init__()
        if len(cells) != len(graph.nodes):
            raise ValueError("one Cell per node expected")
        index, node_inputs = _index_values(graph)
        self.nodes = nn.CellList(cells)
        self.node_names = tuple(n.name for n in graph.nodes)
        self.node_inputs = node_inputs
        self.input_names = tuple(graph.inputs)
        self.output_names = tuple(graph.outputs)
        self.output_index = tuple(index[o] for o in graph.outputs)
        self.spec_graph = graph

        source, filename, line_of_node = _generate_construct(graph, node_inputs, self.output_index)
        self.construct_source = source
        fn = _compile_source(source, filename)
        self._construct_file = fn.__code__.co_filename
        self._line_to_node = {line: i for i, line in enumerate(line_of_node)}
        object.__setattr__(self, "construct", types.MethodType(fn, self))

        self._spec_param_names = _spec_param_names(graph, cells)
        self.update_parameters_name()
        self.set_train(False)

    def update_parameters_name(self, prefix: str = "", recurse: bool = True) -> None:
        """Name every parameter `prefix + <node name>.<path in the node's Cell>`.

        Overrides Cell.update_parameters_name, which a parent Cell calls with its attribute
        name as prefix when this net becomes its child; the spec names survive that.
        """
        names = self.__dict__.get("_spec_param_names")
        if names is None:  # during __init__, before the names are known
            super().update_parameters_name(prefix, recurse)
            return
        for path, param in self.parameters_and_names(expand=recurse):
            if prefix:
                param.is_init = False
            param.name = prefix + names.get(path, path)

    def node_of_line(self, line: int) -> int | None:
        """Index of the node whose statement is at `line` of the generated construct."""
        return self._line_to_node.get(line)


def _index_values(graph: Graph) -> tuple[dict[str, int], tuple[tuple[int, ...], ...]]:
    """Value numbering (inputs, then nodes) and each node's static tuple of input indices."""
    index: dict[str, int] = {}
    for name in graph.inputs:
        index[name] = len(index)
    n_in = len(index)
    node_inputs = []
    for i, node in enumerate(graph.nodes):
        if node.name in index:
            raise SpecError(f"node name '{node.name}' is used twice (or is also an input name)",
                            loc=node.loc, path=node.path)
        idx = []
        for src in node.inputs:
            if src not in index:
                raise SpecError(f"node '{node.name}' reads '{src}', which is not an input or an earlier node",
                                loc=node.loc, path=node.path)
            idx.append(index[src])
        node_inputs.append(tuple(idx))
        index[node.name] = n_in + i
    for out in graph.outputs:
        if out not in index:
            raise SpecError(f"graph output '{out}' is not an input or a node")
    if not graph.outputs:
        raise SpecError("the graph has no outputs")
    return index, tuple(node_inputs)


def _var(v: int, n_in: int) -> str:
    return f"x{v}" if v < n_in else f"v{v - n_in}"


def _comment_text(text: str) -> str:
    return " ".join(str(text).split())  # no newlines in a comment


def _generate_construct(graph: Graph, node_inputs, output_index) -> tuple[str, str, list[int]]:
    n_in = len(graph.inputs)
    last_use = last_readers(node_inputs, n_in + len(graph.nodes))
    keep = set(output_index)

    args = ", ".join(["self"] + [_var(k, n_in) for k in range(n_in)])
    lines = [f"def construct({args}):"]
    lines.append(f"    # archspec graph {_comment_text(graph.name)!s}: "
                 + (", ".join(f"x{k} = {_comment_text(n)}" for k, n in enumerate(graph.inputs)) or "no inputs"))
    line_of_node = []
    dead_inputs = [v for v in range(n_in) if last_use[v] == -1 and v not in keep]
    for v in dead_inputs:  # inputs nobody reads
        lines.append(f"    {_var(v, n_in)} = None")
    for i, node in enumerate(graph.nodes):
        call_args = ", ".join(_var(v, n_in) for v in node_inputs[i])
        where = f" @ {_comment_text(node.loc)}" if node.loc else ""
        where += f" ({_comment_text(node.path)})" if node.path else ""
        comment = (f"{_comment_text(node.name)}: {_comment_text(node.op)}"
                   f"({', '.join(_comment_text(s) for s in node.inputs)}){where}")
        lines.append(f"    {_var(n_in + i, n_in)} = self.nodes[{i}]({call_args})  # {comment}")
        line_of_node.append(len(lines))  # 1-based line number of this statement
        freed = sorted({v for v in node_inputs[i] if last_use[v] == i and v not in keep})
        if n_in + i not in keep and last_use[n_in + i] == -1:
            freed.append(n_in + i)  # a dead end: nobody reads it
        if freed:
            lines.append("    " + "; ".join(f"{_var(v, n_in)} = None" for v in freed))
    outs = [_var(v, n_in) for v in output_index]
    lines.append("    return " + (outs[0] if len(outs) == 1 else "(" + ", ".join(outs) + ",)"))
    source = "\n".join(lines) + "\n"
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", graph.name)[:40] or "graph"
    filename = f"{safe}-{digest}"
    return source, filename, line_of_node


def _compile_source(source: str, filename: str):
    """Turn the generated source into a function whose source MindSpore and Python can find.

    The source goes to a content-addressed file in the temp directory (MindSpore's graph
    compiler reads construct source lines from the file named in the code object to quote them
    in its error tracebacks, and logs an error for every node when the file does not exist),
    and into `linecache` and `fn.source` as fallbacks when the file cannot be written.
    """
    path = _write_source(source, filename) or filename
    lines = source.splitlines(True)
    # inspect.getsource reads through linecache; entries with mtime None are never evicted.
    linecache.cache[path] = (len(source), None, lines, path)
    namespace: dict[str, Any] = {"__name__": __name__}
    exec(compile(source, path, "exec"), namespace)
    fn = namespace["construct"]
    fn.source = (lines, 1)  # MindSpore's parser fallback when inspect cannot find the source
    return fn


def _write_source(source: str, filename: str) -> str | None:
    """Write `source` to <tmp>/archspec-construct-<uid>/<filename>.py once; its path, or None."""
    import os
    import tempfile

    try:
        uid = os.getuid() if hasattr(os, "getuid") else 0
        folder = os.path.join(tempfile.gettempdir(), f"archspec-construct-{uid}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, filename + ".py")
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == source:
                    return path
        except OSError:
            pass
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        os.replace(tmp, path)
        return path
    except OSError:
        return None


def _spec_param_names(graph: Graph, cells: list[nn.Cell]) -> dict[str, str]:
    """Map attribute path in the SpecNet ('nodes.3.conv.weight') -> spec name ('c3.0.conv2.conv.weight')."""
    names: dict[str, str] = {}
    owner: dict[str, str] = {}
    for i, (node, cell) in enumerate(zip(graph.nodes, cells)):
        for path, _param in cell.parameters_and_names():
            spec = f"{node.name}.{path}"
            if spec in owner:
                raise SpecError(f"parameter name '{spec}' of node '{node.name}' clashes with one of node "
                                f"'{owner[spec]}'", loc=node.loc, path=node.path,
                                hint="rename one of the two nodes")
            owner[spec] = node.name
            names[f"nodes.{i}.{path}"] = spec
    return names


# --------------------------------------------------------------------------- running


def run(cell: nn.Cell, *inputs):
    """Call `cell(*inputs)`; a MindSpore failure inside a SpecNet becomes a SpecError at the node.

    GRAPH mode: the node is read off MindSpore's construct traceback. PYNATIVE mode runs ops
    asynchronously, so a failure can surface while a later node runs: the nodes are replayed
    one by one on zeros of their input shapes, waiting for each, and the first to fail is named.
    """
    try:
        return cell(*inputs)
    except SpecError:
        raise
    except Exception as exc:
        import mindspore

        replay = mindspore.get_context("mode") == mindspore.PYNATIVE_MODE
        raise _node_error(cell, exc, "run", replay=replay) from exc


def compile_cell(cell: nn.Cell, *inputs) -> None:
    """Compile `cell` as a graph for `inputs` (GRAPH_MODE semantics) without running it.

    A compile failure inside a SpecNet becomes a SpecError naming the spec node (and its
    location when the graph carries one); the MindSpore exception is kept as `__cause__`.
    """
    try:
        cell.compile(*inputs)
    except SpecError:
        raise
    except Exception as exc:
        raise _node_error(cell, exc, "compile") from exc


_NODE_CALL = re.compile(r"self\.nodes\[(\d+)\]")


def _find_specnet(cell: nn.Cell) -> "SpecNet | None":
    if isinstance(cell, SpecNet):
        return cell
    for _, sub in cell.cells_and_names():
        if isinstance(sub, SpecNet):
            return sub
    return None


def locate_failure(net: "SpecNet", exc: BaseException) -> int | None:
    """Index of the node a failure belongs to, or None when it cannot be told.

    GRAPH (and `compile_cell`): MindSpore's "Traceback of Net Construct Code" names the file
    and line of the generated statement (`# 0 In file .../net-<hash>.py:5`) and quotes it.
    Otherwise the innermost Python frame in the generated construct; in PYNATIVE mode that can
    be a later node than the culprit, as kernels run asynchronously (`run` replays instead).
    """
    found = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == net._construct_file:
            found = net.node_of_line(tb.tb_lineno)
        tb = tb.tb_next
    if found is not None:
        return found
    text = str(exc)
    start = text.find("Traceback of Net Construct Code")
    text = text[start:] if start >= 0 else text
    for m in re.finditer(r"In file (.+?):(\d+)", text):  # "# 0 In file /tmp/.../x.py:5, 9~26"
        if m.group(1) == net._construct_file:
            line_node = net.node_of_line(int(m.group(2)))
            if line_node is not None:
                return line_node
    hits = _NODE_CALL.findall(text)  # the quoted statement, e.g. "v1 = self.nodes[1](v0)"
    if hits:
        i = int(hits[0])  # the construct statement is the outermost frame quoted
        if 0 <= i < len(net.nodes):
            return i
    return None


def replay_nodes(net: "SpecNet") -> tuple[int, BaseException] | None:
    """Run each node's Cell alone on zeros of its input shapes, waiting for each result.

    Returns (index, exception) of the first node that fails, or None. Costs one forward pass.
    """
    import numpy as np
    from mindspore import Tensor

    for i, node in enumerate(net.spec_graph.nodes):
        args = [Tensor(np.zeros(s, np.float32)) for s in node.in_shapes]
        try:
            out = net.nodes[i](*args)
            for t in out if isinstance(out, (tuple, list)) else (out,):
                if hasattr(t, "asnumpy"):
                    t.asnumpy()  # waits for the asynchronous kernels
        except Exception as exc:  # noqa: BLE001 (any failure localizes the node)
            return i, exc
    return None


def _node_error(cell: nn.Cell, exc: BaseException, what: str, replay: bool = False) -> Exception:
    net = _find_specnet(cell)
    if net is None:
        return SpecError(f"MindSpore failed to {what} the network: {error_head(exc)}")
    graph = net.spec_graph
    expected = ", ".join(f"{name} {list(shape)}" for name, shape in graph.inputs.items())
    if replay:
        hit = replay_nodes(net)
        if hit is None:
            return SpecError(f"MindSpore failed to {what} network '{graph.name}': {error_head(exc)}",
                             hint=f"every node runs alone on inputs of its spec shapes, so check the "
                                  f"network's inputs: the spec expects float32 {expected}")
        i, exc = hit
    else:
        i = locate_failure(net, exc)
    if i is None:
        return SpecError(f"MindSpore failed to {what} network '{graph.name}' "
                         f"(the failing node could not be identified): {error_head(exc)}",
                         hint=f"the spec expects float32 inputs {expected}; running in PYNATIVE mode "
                              f"names the failing node")
    node: Node = graph.nodes[i]
    return SpecError(f"node '{node.name}' (op '{node.op}', inputs {[list(s) for s in node.in_shapes]}) "
                     f"failed to {what} in MindSpore: {error_head(exc)}", loc=node.loc, path=node.path)


# --------------------------------------------------------------------------- inspection


def count_fused(cell: nn.Cell) -> int:
    """Number of nn.Conv2dBnAct cells with BatchNorm (has_bn) in `cell`'s tree."""
    return sum(1 for _, c in cell.cells_and_names() if isinstance(c, nn.Conv2dBnAct) and c.has_bn)


def find_unfused_conv_bn(cell: nn.Cell) -> list[str]:
    """Names of nn.Conv2d cells directly followed by an nn.BatchNorm2d outside one nn.Conv2dBnAct.

    Walks `cell.cells_and_names()` (pre-order, registration order) and looks at consecutive
    leaf cells (cells without children), so container cells in between do not hide a pair;
    a Conv2d followed by the BatchNorm2d of the same Conv2dBnAct is fused and not reported.
    """
    walked = list(cell.cells_and_names())
    by_name = dict(walked)
    leaves = [(name, c) for name, c in walked if not list(c.cells())]
    found = []
    for (name, c), (next_name, nxt) in zip(leaves, leaves[1:]):
        if not (isinstance(c, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d)):
            continue
        parent = name.rpartition(".")[0]
        fused = (isinstance(by_name.get(parent), nn.Conv2dBnAct) and name == _join(parent, "conv")
                 and next_name == _join(parent, "batchnorm"))
        if not fused:
            found.append(name)
    return found


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
