"""Static checks: each rule catches its case at the right line, and clean code passes."""

from __future__ import annotations

import pytest

from genesys_tui.checker.banned import BANNED_MODULES, module_verdict
from genesys_tui.checker.static import check_static, check_unit_source
from genesys_tui.design import UnitDecl, load_design, read_unit_declarations
from genesys_tui.resources import library_designs

CLEAN = '''"""A clean unit."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from genesys_tui.units import Arg, Unit

SCALE = 1 / math.sqrt(2)


def helper(x):
    return F.gelu(x) * SCALE


class Mixer(Unit):
    role = "sequence_mixer"
    slots = {"inner": "channel_mixer"}
    args = {"width": Arg(2, low=1, high=8)}

    def __init__(self, ctx, inner, width=2):
        super().__init__(ctx)
        self.inner = inner
        self.proj = nn.Linear(ctx.d_model, width * ctx.d_model)

    def forward(self, X, **Z):
        H, Z = self.inner(X, **Z)
        return helper(H) + torch.zeros_like(X), Z
'''


def _check(source: str) -> list:  # type: ignore[type-arg]
    decls = read_unit_declarations(source)
    return check_unit_source(source, "units/mixer.py", decls, unit="mixer")


def _mutate(old: str, new: str) -> str:
    assert old in CLEAN
    return CLEAN.replace(old, new, 1)


def test_clean_unit_has_no_finding() -> None:
    assert _check(CLEAN) == []


@pytest.mark.parametrize("path", library_designs(), ids=[p.name for p in library_designs()])
def test_library_design_is_statically_clean(path) -> None:  # type: ignore[no-untyped-def]
    assert [f for f in check_static(load_design(path)) if f.is_error] == []


# id -> (text to replace in CLEAN, replacement, expected check, text of the flagged line)
CASES = {
    "import-os": ("import math\n", "import math\nimport os\n", "banned_import", "import os"),
    "from-torch-hub": ("import math\n", "import math\nfrom torch import hub\n", "banned_import",
                       "from torch import hub"),
    "import-unknown": ("import math\n", "import math\nimport numpy\n", "import", "import numpy"),
    "import-in-function": ("        H, Z = self.inner", "        import subprocess\n"
                           "        H, Z = self.inner", "banned_import", "import subprocess"),
    "relative-import": ("import math\n", "import math\nfrom . import other\n", "import",
                        "from . import other"),
    "eval": ("return helper(H)", "return eval('helper')(H)", "banned_call", "eval("),
    "open": ("        H, Z = self.inner", "        open('/tmp/x', 'w')\n        H, Z = self.inner",
             "banned_call", "open("),
    "torch-save": ("        H, Z = self.inner", "        torch.save(X, 'x.pt')\n"
                   "        H, Z = self.inner", "banned_call", "torch.save"),
    "dunder-escape": ("return helper(H)", "return helper(H.__class__.__mro__[0])",
                      "banned_attribute", "__mro__"),
    "getattr-builtins": ("return helper(H)", "return helper(getattr(torch, 'os'))",
                         "banned_attribute", "getattr"),
    "torch-os": ("return helper(H)", "return helper(H) if torch.os else H", "banned_attribute",
                 "torch.os"),
    "module-level-call": ("SCALE = 1", "torch.manual_seed(0)\nSCALE = 1", "module_level",
                          "torch.manual_seed(0)"),
    "module-level-loop": ("SCALE = 1", "for _ in range(3):\n    pass\nSCALE = 1", "module_level",
                          "for _ in range(3):"),
    "patch-torch": ("        H, Z = self.inner", "        torch.isfinite = lambda t: True\n"
                    "        H, Z = self.inner", "module_patch", "torch.isfinite"),
    "global-statement": ("        H, Z = self.inner", "        global SCALE\n"
                         "        H, Z = self.inner", "global_state", "global SCALE"),
    "slot-unused": ("        H, Z = self.inner(X, **Z)\n", "        H = X\n", "slots", None),
    "slot-not-kept": ("        self.inner = inner\n", "", "slots", None),
    "undeclared-arg": ("def __init__(self, ctx, inner, width=2)",
                       "def __init__(self, ctx, inner, depth, width=2)", "args", None),
    "builds-own-child": ("        self.proj = nn", "        self.twin = Mixer(ctx, inner)\n"
                         "        self.proj = nn", "slots", "Mixer(ctx, inner)"),
    "forward-without-z": ("def forward(self, X, **Z):", "def forward(self, X):", "contract",
                          "def forward(self, X):"),
    "second-unit-class": ("class Mixer(Unit):", "class Base(Unit):\n    role = 'other'\n\n\n"
                          "class Mixer(Unit):", "unit_class", "class Mixer(Unit):"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_rule_flags_its_case_at_the_line(case: str) -> None:
    old, new, check, line_text = CASES[case]
    findings = [f for f in _check(_mutate(old, new)) if f.is_error]
    assert findings, case
    assert findings[0].check == check, findings[0].format()
    assert findings[0].file == "units/mixer.py" and findings[0].hint
    if line_text is not None:
        assert findings[0].code is not None and line_text in findings[0].code


def test_aliased_banned_call_is_resolved() -> None:
    source = _mutate("import torch\n", "import torch\nimport torch as T\n")
    source = source.replace(
        "        H, Z = self.inner", "        T.load('w.pt')\n        H, Z = self.inner"
    )
    assert [f.check for f in _check(source)] == ["banned_call"]


def test_mutating_module_state_from_forward_is_flagged() -> None:
    source = _mutate("SCALE = 1", "CACHE = []\nSCALE = 1")
    source = source.replace(
        "        H, Z = self.inner", "        CACHE.append(X)\n        H, Z = self.inner"
    )
    assert [f.check for f in _check(source)] == ["global_state"]


def test_shadowed_harmless_builtin_is_a_variable() -> None:
    source = _mutate("def forward(self, X, **Z):\n", "def forward(self, X, **Z):\n"
                     "        input = X\n        X = input\n")  # fmt: skip
    assert _check(source) == []


def test_syntax_error_is_a_parse_finding() -> None:
    findings = check_unit_source("def broken(:\n", "units/x.py", {})
    assert [(f.check, f.line) for f in findings] == [("parse", 1)]


@pytest.mark.parametrize(
    ("name", "verdict"),
    [("torch.nn.functional", "allowed"), ("torch.hub", "banned"), ("os.path", "banned"),
     ("math", "allowed"), ("numpy", "unknown"), ("genesys_tui.units", "allowed"),
     ("genesys_tui.checker", "unknown")],
    ids=["torch-nn", "torch-hub", "os-path", "math", "numpy", "units", "checker"],
)  # fmt: skip
def test_most_specific_module_entry_wins(name: str, verdict: str) -> None:
    assert module_verdict(name) == verdict


def test_banned_list_names_the_modules_of_the_issue() -> None:
    issue = {"os", "sys", "subprocess", "socket", "shutil", "pathlib", "importlib", "ctypes",
             "multiprocessing", "threading", "requests", "urllib", "http"}  # fmt: skip
    assert issue <= BANNED_MODULES


def test_decl_type_is_what_the_loader_reads() -> None:
    decls = read_unit_declarations(CLEAN)
    assert isinstance(decls["Mixer"], UnitDecl)


# id -> statement(s) run first in Mixer.forward, each patching code the unit did not define
PATCHES = {
    "alias-attribute": "F.cross_entropy = lambda *a, **k: 0",
    "tensor-method": "torch.Tensor.softmax = lambda *a, **k: 0",
    "rebound-alias": "f = F\nf.gelu = None",
    "alias-kept-on-self": "self.F = F\nself.F.gelu = None",
    "type-of-tensor": "type(X).softmax = None",
    "dunder-class": "X.__class__.softmax = None",
    "tuple-target": "F.gelu, F.silu = None, None",
    "for-target": "for F.gelu in [None]:\n    pass",
    "delete": "del torch.nn.functional.gelu",
    "object-setattr": "object.__setattr__(torch.Tensor, 'softmax', None)",
    "item-of-module-dict": "torch.nn.modules.module._global_forward_hooks[0] = None",
    "container-of-modules": "for m in (F, torch):\n    m.gelu = None",
    "getattr-chain": "getattr(torch, 'Tensor').softmax = None",
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(PATCHES), ids=sorted(PATCHES))
def test_patching_imported_code_is_an_error(case: str) -> None:
    body = "".join(f"        {line}\n" for line in PATCHES[case].splitlines())
    findings = _check(_mutate("        H, Z = self.inner", body + "        H, Z = self.inner"))
    patches = [f for f in findings if f.check == "module_patch"]
    assert patches and all(f.is_error for f in patches), [f.format() for f in findings]
    assert patches[0].line is not None and patches[0].code is not None
    assert patches[0].code.strip() in [line.strip() for line in PATCHES[case].splitlines()]


def test_a_helper_returning_a_module_is_followed() -> None:
    source = _mutate("SCALE = 1", "T = torch.Tensor\n\n\ndef lib():\n    return F\n\n\nSCALE = 1")
    source = source.replace(
        "        H, Z = self.inner",
        "        lib().gelu = None\n        T.softmax = None\n        H, Z = self.inner",
    )
    assert [f.code.strip() for f in _check(source) if f.check == "module_patch"] == [
        "lib().gelu = None", "T.softmax = None"]  # fmt: skip


def test_assigning_to_own_tensors_and_modules_is_not_a_patch() -> None:
    own = (
        "w = torch.zeros(3)\nw.tag = 1\nself.scale = nn.Parameter(torch.ones(1))\n"
        "self.scale._no_weight_decay = True\nH = X.clone()\nH[:, 0] = 0\nself.proj.bias = None"
    )
    body = "".join(f"        {line}\n" for line in own.splitlines())
    assert _check(_mutate("        H, Z = self.inner", body + "        H, Z = self.inner")) == []


def test_reaching_the_checker_through_an_allowed_import_is_refused() -> None:
    source = _mutate("import torch\n", "import torch\nimport genesys_tui.units\n").replace(
        "        H, Z = self.inner",
        "        leak = genesys_tui.checker.causality\n"
        "        genesys_tui.checker.causality._leak = None\n        H, Z = self.inner",
    )
    found = [(f.check, f.code.strip()) for f in _check(source) if f.is_error]  # type: ignore[union-attr]
    assert ("import", "leak = genesys_tui.checker.causality") in found
    assert ("module_patch", "genesys_tui.checker.causality._leak = None") in found
