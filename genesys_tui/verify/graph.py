"""A trained model as data: a graph of ATen operations and its tensors (issue 21, section 2).

The cell that trained a design exports the model (``torch.export``, at the rung's context
length) and writes it in a format of our own: ``graph.json`` (the nodes: an operation's name
and its arguments) and ``tensors.bin`` (parameters, buffers and constants, raw bytes whose
dtype and shape the JSON gives). Nothing in it is pickled and nothing in it names Python code:
``load_graph`` resolves each operation by name in ``torch.ops.aten`` alone (plus ``getitem``
and the autocast wrapper export leaves around ``torch.autocast`` blocks), refuses anything else,
and ``Graph`` runs the nodes one by one. So the process that audits a trained model
(``verify.graph_audit``) never imports the design's modules: what it computes is what the
graph computes, a pure function of its input tokens, whatever the design's code did in its own
process. A design whose model does not export (data-dependent Python control flow, ``.item()``
in the forward pass, custom operators) cannot be audited, and its verification fails saying so.
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

FORMAT = 1
GRAPH_FILE = "graph.json"
TENSORS_FILE = "tensors.bin"
#: Element types a graph's tensors may have.
_DTYPE_NAMES = "float32 float64 float16 bfloat16 int64 int32 int16 int8 uint8 bool"
DTYPES = {name: getattr(torch, name) for name in _DTYPE_NAMES.split()}
#: ATen operations a graph may not contain: they reach outside the tensors they are given.
DENIED = frozenset({"from_file", "_load_from_file", "save", "_nested_from_file"})
#: Nodes of a graph at most (a guard against a file built to exhaust the auditor).
MAX_NODES = 200_000


class GraphError(Exception):
    """The model does not export, or a graph file is not one this module wrote."""


# ---- the cell's side: export and write ---------------------------------------------------------


def export_graph(model: torch.nn.Module, context: int, out_dir: str | Path | None = None,
                 batch: int = 1) -> dict[str, Any]:  # fmt: skip
    """Export ``model`` (token ids (batch, context) -> logits (batch, context, V)) and write it
    to ``out_dir`` (with None, only check that it exports); return the graph's summary.
    GraphError names why a model does not export."""
    spec, tensors = _export(model, context, batch)
    offset, blobs = 0, []
    for name, (kind, value) in tensors.items():
        data = value.detach().cpu().contiguous()
        raw = data.view(torch.uint8).numpy().tobytes() if data.numel() else b""
        spec["tensors"].append({"name": name, "kind": kind, "dtype": _dtype_name(data.dtype),
                                "shape": list(data.shape), "offset": offset,
                                "nbytes": len(raw)})  # fmt: skip
        blobs.append(raw)
        offset += len(raw)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with (out / TENSORS_FILE).open("wb") as f:
            for raw in blobs:
                f.write(raw)
        (out / GRAPH_FILE).write_text(json.dumps(spec), encoding="utf-8")
    return {"nodes": _count_nodes(spec["main"]), "tensor_bytes": offset}


def _export(model: torch.nn.Module, context: int, batch: int
            ) -> tuple[dict[str, Any], dict[str, tuple[str, torch.Tensor]]]:  # fmt: skip
    model.eval()
    example = torch.zeros((batch, context), dtype=torch.long)
    try:
        with torch.no_grad():
            program = torch.export.export(model, (example,), strict=False)
    except Exception as exc:  # any failure of export is the finding
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise GraphError(f"the model does not export as a graph ({type(exc).__name__}: "
                         f"{first[:300]})") from None  # fmt: skip
    tensors: dict[str, tuple[str, torch.Tensor]] = {}
    inputs: list[dict[str, Any]] = []
    for spec in program.graph_signature.input_specs:
        kind = spec.kind.name.lower()  # parameter, buffer, constant_tensor, user_input
        if kind == "user_input":
            inputs.append({"user": True})
            continue
        value = program.state_dict.get(spec.target)  # non-persistent buffers: constants
        value = program.constants.get(spec.target) if value is None else value
        if not isinstance(value, torch.Tensor):
            raise GraphError(f"the graph holds a {type(value).__name__} ({spec.target}), not a "
                             "tensor")  # fmt: skip
        tensors.setdefault(spec.target, (kind, value))
        inputs.append({"tensor": spec.target})
    n_outputs = sum(s.kind.name == "USER_OUTPUT" for s in program.graph_signature.output_specs)
    skip = len(program.graph_signature.output_specs) - n_outputs  # mutated buffers come first
    graph = {
        "format": FORMAT, "context": context, "batch": batch, "inputs": inputs,
        "skip_outputs": skip,
        "main": _encode_graph(program.graph_module), "tensors": [],
    }  # fmt: skip
    return graph, tensors


def _encode_graph(module: torch.fx.GraphModule) -> dict[str, Any]:
    nodes = []
    for node in module.graph.nodes:
        if node.op == "placeholder":
            nodes.append({"op": "input", "name": node.name})
        elif node.op == "output":
            nodes.append({"op": "output", "args": _encode(node.args[0], module)})
        elif node.op == "call_function":
            nodes.append({"op": "call", "name": node.name, "target": _target_name(node.target),
                          "args": _encode(list(node.args), module),
                          "kwargs": _encode(dict(node.kwargs), module)})  # fmt: skip
        elif node.op == "get_attr":
            value = getattr(module, str(node.target))
            if not isinstance(value, torch.fx.GraphModule):
                raise GraphError(f"the graph reads an attribute that is not a subgraph: "
                                 f"{node.target}")  # fmt: skip
            nodes.append({"op": "subgraph", "name": node.name, "graph": _encode_graph(value)})
        else:
            raise GraphError(f"the graph has a {node.op} node ({node.target})")
    return {"nodes": nodes}


def _target_name(target: Any) -> str:
    if target is operator.getitem:
        return "getitem"
    if isinstance(target, torch._ops.OpOverload):
        return str(target)  # aten.mm.default
    if isinstance(target, torch._ops.HigherOrderOperator) and target.name() == "wrap_with_autocast":
        return "hop.wrap_with_autocast"
    raise GraphError(f"the graph calls {target!r}, which is not an ATen operation")


def _encode(value: Any, module: torch.fx.GraphModule) -> Any:
    if isinstance(value, torch.fx.Node):
        return {"node": value.name}
    if isinstance(value, (list, tuple)):
        return [_encode(v, module) for v in value]
    if isinstance(value, dict):
        return {"dict": {str(k): _encode(v, module) for k, v in value.items()}}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, torch.dtype):
        return {"dtype": _dtype_name(value)}
    if isinstance(value, torch.device):
        return {"device": value.type}
    if isinstance(value, torch.layout):
        return {"layout": str(value).removeprefix("torch.")}
    if isinstance(value, torch.memory_format):
        return {"memory_format": str(value).removeprefix("torch.")}
    raise GraphError(f"the graph has an argument of type {type(value).__name__}")


def _dtype_name(dtype: torch.dtype) -> str:
    name = str(dtype).removeprefix("torch.")
    if name not in DTYPES:
        raise GraphError(f"the graph holds a tensor of dtype {name}")
    return name


def _count_nodes(graph: dict[str, Any]) -> int:
    return sum(1 + (_count_nodes(n["graph"]) if n["op"] == "subgraph" else 0)
               for n in graph["nodes"])  # fmt: skip


# ---- the auditor's side: read and run ------------------------------------------------------------


@dataclass(frozen=True)
class TensorInfo:
    name: str
    kind: str  # parameter, buffer, constant_tensor
    numel: int


class Graph:
    """A graph read by ``load_graph``: ``graph(tokens (b, t)) -> logits (b, t, V)`` for any
    b <= ``batch`` and t <= ``context``: the tokens are padded (with zeros) to the shape the
    graph was exported at. Padding after a row's tokens leaves its logits alone only if the
    model is causal, which the audit probes before it reads any other figure."""

    def __init__(self, spec: dict[str, Any], tensors: dict[str, torch.Tensor],
                 infos: list[TensorInfo]) -> None:  # fmt: skip
        self.context, self.batch = int(spec["context"]), int(spec.get("batch", 1))
        self.device = next(iter(tensors.values())).device if tensors else torch.device("cpu")
        self.spec, self.tensors, self.infos = spec, tensors, infos
        self._skip = int(spec.get("skip_outputs", 0))
        _validate(spec["main"])

    @torch.no_grad()
    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        b, t = tokens.shape
        if not (0 < b <= self.batch and 0 < t <= self.context):
            raise GraphError(f"the graph takes at most ({self.batch}, {self.context}) tokens, "
                             f"not {list(tokens.shape)}")  # fmt: skip
        padded = torch.zeros((self.batch, self.context), dtype=torch.long, device=self.device)
        padded[:b, :t] = tokens.to(self.device)
        args = [padded if "user" in i else self.tensors[i["tensor"]] for i in self.spec["inputs"]]
        outputs = _run(self.spec["main"], args, self.device)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        user = list(outputs)[self._skip :]
        if len(user) != 1 or not isinstance(user[0], torch.Tensor) or user[0].ndim != 3 \
                or tuple(user[0].shape[:2]) != (self.batch, self.context):  # fmt: skip
            raise GraphError("the graph does not return one tensor of logits (batch, context, V)")
        return user[0][:b, :t]

    def count(self, kind: str) -> int:
        return sum(i.numel for i in self.infos if i.kind == kind)

    def embedding_numel(self, vocab: int) -> int:
        """Elements of the token embedding, which a rung's parameter budget leaves out: the
        largest (vocab, d) parameter that ``aten.embedding`` looks the input tokens up in."""
        main = self.spec["main"]["nodes"]
        places = [n["name"] for n in main if n["op"] == "input"]
        by_node = dict(zip(places, [i.get("tensor") for i in self.spec["inputs"]], strict=False))
        user = [p for p, i in zip(places, self.spec["inputs"], strict=False) if "user" in i]
        kinds = {i.name: i.kind for i in self.infos}
        found = [0]
        for n in main:
            args = n.get("args") or []
            if (n["op"] == "call" and n["target"].startswith("aten.embedding.") and len(args) > 1
                    and isinstance(args[0], dict) and args[1] == {"node": user[0] if user else ""}):
                name = by_node.get(args[0].get("node"))
                weight = self.tensors.get(name) if name else None
                if weight is not None and kinds.get(name) == "parameter" \
                        and weight.ndim == 2 and weight.shape[0] == vocab:  # fmt: skip
                    found.append(int(weight.numel()))
        return max(found)


def load_graph(directory: str | Path, device: str = "cpu") -> Graph:
    """Read a graph ``export_graph`` wrote, its tensors on ``device`` (where it then runs,
    whatever device it was exported on). GraphError names what is wrong with the files."""
    directory = Path(directory)
    try:
        spec = json.loads((directory / GRAPH_FILE).read_text(encoding="utf-8"))
        blob = (directory / TENSORS_FILE).read_bytes()
    except (OSError, ValueError) as exc:
        raise GraphError(f"the graph does not read: {exc}") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise GraphError("the graph file is not of this format")
    tensors: dict[str, torch.Tensor] = {}
    infos = []
    try:
        for entry in spec["tensors"]:
            dtype = DTYPES[entry["dtype"]]
            shape = [int(s) for s in entry["shape"]]
            start, size = int(entry["offset"]), int(entry["nbytes"])
            numel = math.prod(shape)
            if size != numel * dtype.itemsize or start < 0 or start + size > len(blob):
                raise GraphError(f"tensor {entry['name']}: its bytes do not match its shape")
            raw = torch.frombuffer(bytearray(blob[start : start + size]), dtype=torch.uint8) \
                if size else torch.empty(0, dtype=torch.uint8)  # fmt: skip
            tensors[str(entry["name"])] = raw.view(dtype).reshape(shape).to(device)
            infos.append(TensorInfo(str(entry["name"]), str(entry["kind"]), numel))
        return Graph(spec, tensors, infos)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise GraphError(f"the graph file is malformed ({type(exc).__name__}: {exc})") from None


def _validate(graph: dict[str, Any], depth: int = 0) -> None:
    """Every call resolves to an allowed operation; bounded size and nesting."""
    nodes = graph["nodes"]
    if depth > 4 or len(nodes) > MAX_NODES:
        raise GraphError("the graph is nested too deep or has too many nodes")
    for node in nodes:
        if node["op"] == "call":
            _resolve(node["target"])
        elif node["op"] == "subgraph":
            _validate(node["graph"], depth + 1)
        elif node["op"] not in ("input", "output"):
            raise GraphError(f"the graph has a node of kind {node['op']!r}")


def _resolve(target: str) -> Any:
    if target == "getitem":
        return operator.getitem
    if target == "hop.wrap_with_autocast":
        return _autocast
    parts = target.split(".")
    if len(parts) != 3 or parts[0] != "aten" or parts[1] in DENIED:
        raise GraphError(f"the graph calls {target!r}, which is not an allowed ATen operation")
    try:
        op = getattr(getattr(torch.ops.aten, parts[1]), parts[2])
    except (AttributeError, RuntimeError):
        raise GraphError(f"the graph calls {target!r}, which ATen does not have") from None
    if not isinstance(op, torch._ops.OpOverload):
        raise GraphError(f"the graph calls {target!r}, which is not an ATen operation")
    return op


def _autocast(device: str, dtype: Any, enabled: bool, cache: bool, body: Any, *args: Any) -> Any:
    with torch.autocast(device_type=device, dtype=dtype, enabled=enabled, cache_enabled=cache):
        return body(*args)


def _run(graph: dict[str, Any], args: list[Any], device: torch.device) -> Any:
    env: dict[str, Any] = {}
    placeholders = [n for n in graph["nodes"] if n["op"] == "input"]
    if len(placeholders) != len(args):
        raise GraphError(f"the graph takes {len(placeholders)} inputs, was given {len(args)}")
    for node, value in zip(placeholders, args, strict=True):
        env[node["name"]] = value
    for node in graph["nodes"]:
        op = node["op"]
        if op == "subgraph":
            sub = node["graph"]
            env[node["name"]] = lambda *a, _sub=sub: _run(_sub, list(a), device)
        elif op == "call":
            fn = _resolve(node["target"])
            args_, kwargs = _decode(node["args"], env, device), _decode(node["kwargs"], env, device)
            env[node["name"]] = fn(*args_, **kwargs)
        elif op == "output":
            return _decode(node["args"], env, device)
    raise GraphError("the graph has no output")


def _decode(value: Any, env: dict[str, Any], device: torch.device) -> Any:
    if isinstance(value, list):
        return [_decode(v, env, device) for v in value]
    if not isinstance(value, dict):
        return value
    if "node" in value:
        try:
            return env[value["node"]]
        except KeyError:
            raise GraphError(f"the graph uses {value['node']!r} before it is computed") from None
    if "dict" in value:
        return {k: _decode(v, env, device) for k, v in value["dict"].items()}
    if "dtype" in value:
        return DTYPES[value["dtype"]]
    if "float" in value:
        return float(value["float"])
    if "device" in value:
        return device  # the graph runs where the auditor loaded it, whatever it was made on
    if "layout" in value:
        return getattr(torch, value["layout"]) if value["layout"] in ("strided",) else _bad(value)
    if "memory_format" in value:
        name = value["memory_format"]
        allowed = ("contiguous_format", "preserve_format", "channels_last")
        return getattr(torch, name) if name in allowed else _bad(value)
    return _bad(value)


def _bad(value: Any) -> Any:
    raise GraphError(f"the graph has an argument it cannot hold: {str(value)[:80]}")
