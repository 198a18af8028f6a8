"""The offline designer: seeded, typed edits of unit trees. No LLM, no network.

Mutation applies one operation to one parent: swap the subtree in a slot for a pool subtree of
the same role, change one argument within its declared range, or insert or remove a modifier
(gate, short convolution, norm). Crossover exchanges a compatible subtree between two parents
or interleaves their blocks layer-wise. Scratch composes a block from pool subtrees. Each result
is validated (``design_from_dict``) and must differ structurally from its parents and siblings.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from genesys_tui.describe import child_description
from genesys_tui.design import Arg, Design
from genesys_tui.designer import DesignFailure, DesignRequest, DialogueSink, Proposal
from genesys_tui.draft import DesignDraft, structural_hash
from genesys_tui.errors import DesignError
from genesys_tui.evolve.pool import UnitPool, docstring_summary
from genesys_tui.parsing import module_docstring

WHY = {
    "sequence_mixer": "The sequence mixer decides what each position can see of the past and at "
    "what cost: exact attention, decaying linear recurrences and state-space scans trade recall "
    "against speed and state size. Trying another mixer inside this block tests whether the "
    "rest of the block complements it.",
    "channel_mixer": "The channel mixer holds most of the parameters; its width, gating and "
    "non-linearity change what each position can compute once context is mixed in.",
    "norm": "The choice of normalisation changes the scale of what each branch writes to the "
    "residual stream, and with it the stability of training at higher learning rates.",
    "block": "The block wiring (where the norms sit, how branches combine) shapes how signals and "
    "gradients flow through depth.",
}
DEFAULT_WHY = "A different unit in this role changes the inductive bias of the block."
MAX_TRIES = 24


@dataclass(frozen=True)
class Edit:
    draft: DesignDraft
    title: str  # one line
    changes: list[str]  # markdown bullet lines: what changed
    why: str  # why it might help


class OfflineDesigner:
    """Seeded symbolic mutator over a UnitPool. Same request seed, same design."""

    name = "offline-mutator"

    def __init__(self, pool: UnitPool) -> None:
        self.pool = pool

    def design(
        self, request: DesignRequest, say: DialogueSink | None = None
    ) -> Proposal | DesignFailure:
        rng = random.Random(request.seed)
        taken = {structural_hash(p.design) for p in request.parents}
        taken |= {structural_hash(s) for s in request.siblings}
        make: Callable[[random.Random], Edit | None]
        if request.kind == "mutation":
            (parent,) = request.parents[:1]
            make = lambda r: self.mutate(parent.design, r)  # noqa: E731
        elif request.kind == "crossover":
            a, b = request.parents[0].design, request.parents[1].design
            make = lambda r: self.crossover(a, b, r)  # noqa: E731
        else:
            make = self.scratch
        last_error = "no applicable operation"
        for _ in range(MAX_TRIES):
            edit = make(rng)
            if edit is None:
                continue
            try:
                design = edit.draft.finish()
            except DesignError as exc:
                last_error = f"an edit produced an invalid design: {exc}"
                continue
            h = structural_hash(design)
            if h in taken:
                last_error = "every edit tried reproduced a parent or a sibling"
                continue
            name = f"{_family(request)}-{h[:6]}"
            renamed = DesignDraft.from_design(design)
            renamed.name = name
            renamed.description = child_description(design, edit.title)
            final = renamed.finish()
            text = _proposal_md(name, request, edit)
            if say is not None:
                say("designer", f"{edit.title}\n" + "\n".join(edit.changes))
            return Proposal(
                final,
                edit.title,
                edit.why,
                {"proposal.md": text},
                stats={"operation": edit.title.split(":")[0]},
            )
        return DesignFailure(f"offline designer gave up after {MAX_TRIES} tries: {last_error}")

    # ------------------------------------------------------------------ mutation

    def mutate(self, parent: Design, rng: random.Random) -> Edit | None:
        ops = [self._swap, self._change_arg, self._insert_modifier, self._remove_modifier]
        weights = [0.35, 0.35, 0.2, 0.1]
        op = rng.choices(ops, weights)[0]
        return op(DesignDraft.from_design(parent), parent, rng)

    def _swap(self, draft: DesignDraft, parent: Design, rng: random.Random) -> Edit | None:
        candidates = [uid for uid in draft.units if uid not in draft.roots]
        if not candidates:
            return None
        uid = rng.choice(candidates)
        node = parent.units[uid]
        options = [e for e in self.pool.of_role(node.role) if e.cls != node.cls]
        if not options:
            return None
        entry = rng.choice(options)
        new = draft.copy_in(entry.draft, entry.uid)
        draft.replace(uid, new)
        old_summary = docstring_summary(parent.sources[node.file], node.cls)
        return Edit(
            draft,
            f"swap: {node.role.replace('_', ' ')} {node.cls} -> {entry.cls} (from {entry.origin})",
            [
                f"- Replaced `{uid}` ({node.cls}: {old_summary}) with `{new}` ({entry.cls} from "
                f"{entry.origin}: {entry.summary})."
            ],
            WHY.get(node.role, DEFAULT_WHY),
        )

    def _change_arg(self, draft: DesignDraft, parent: Design, rng: random.Random) -> Edit | None:
        choices = [
            (uid, name) for uid in sorted(parent.units) for name in sorted(parent.decls[uid].args)
        ]
        if not choices:
            return None
        uid, name = rng.choice(choices)
        arg = parent.decls[uid].args[name]
        old = parent.units[uid].args.get(name, arg.default)
        new = perturb(arg, old, rng)
        if new is None or new == old:
            return None
        draft.units[uid]["args"][name] = new
        cls = parent.units[uid].cls
        doc = f" ({arg.doc})" if arg.doc else ""
        return Edit(
            draft,
            f"argument: {cls}.{name} {old} -> {new}",
            [f"- Changed `{name}`{doc} of `{uid}` ({cls}) from {old} to {new}."],
            f"{cls}'s `{name}` sets a capacity or inductive-bias knob; the library default is a "
            "choice made at other scales and data, and a different value may suit this block "
            "better at the sizes the ladder trains.",
        )

    def _insert_modifier(
        self, draft: DesignDraft, parent: Design, rng: random.Random
    ) -> Edit | None:
        wrapped_roles = {m.role for m in self.pool.modifiers}
        targets = [uid for uid in sorted(draft.units) if draft.units[uid]["role"] in wrapped_roles]
        if not targets:
            return None
        uid = rng.choice(targets)
        role = draft.units[uid]["role"]
        mod = rng.choice(self.pool.modifiers_for(role))
        if draft.units[uid]["class"] == mod.cls:
            return None
        new = draft.wrap(uid, mod.unit(), mod.source, "inner")
        return Edit(
            draft,
            f"insert: {mod.cls} around {draft.units[uid]['class']}",
            [f"- Wrapped `{uid}` ({draft.units[uid]['class']}) in `{new}`: {mod.summary}"],
            docstring_why(mod.source),
        )

    def _remove_modifier(
        self, draft: DesignDraft, parent: Design, rng: random.Random
    ) -> Edit | None:
        names = {m.cls for m in self.pool.modifiers}
        targets = [uid for uid in sorted(draft.units) if draft.units[uid]["class"] in names]
        if not targets:
            return None
        uid = rng.choice(targets)
        cls = draft.units[uid]["class"]
        inner = draft.unwrap(uid, "inner")
        return Edit(
            draft,
            f"remove: {cls}",
            [f"- Removed the modifier `{uid}` ({cls}); `{inner}` takes its place."],
            "Removing a modifier tests whether it earned its parameters and time: a simpler "
            "block that scores as well is the better design.",
        )

    # ------------------------------------------------------------------ crossover, scratch

    def crossover(self, a: Design, b: Design, rng: random.Random) -> Edit | None:
        draft, other = DesignDraft.from_design(a), DesignDraft.from_design(b)
        if rng.random() < 0.3:
            new_roots = [draft.copy_in(other, r) for r in other.roots]
            draft.roots = list(draft.roots) + new_roots
            return Edit(
                draft,
                f"interleave: {a.name} and {b.name} blocks layer by layer",
                [
                    f"- Layers alternate between {a.name}'s block(s) and {b.name}'s block(s) "
                    f"(layer pattern {draft.roots})."
                ],
                "Hybrids that alternate mixers (attention with state-space or recurrent layers, "
                "as in Jamba, Zamba or Samba) often beat either parent: one layer kind supplies "
                "exact recall, the other cheap long-range state.",
            )
        shared = sorted(
            {n.role for n in a.units.values()} & {n.role for n in b.units.values()} - {"block"}
        )
        if not shared:
            return None
        role = rng.choice(shared)
        mine = [u for u in draft.ids_with_role(role) if u not in draft.roots]
        theirs = [u for u in other.ids_with_role(role) if u not in other.roots]
        if not mine or not theirs:
            return None
        uid, donor = rng.choice(mine), rng.choice(theirs)
        new = draft.copy_in(other, donor)
        draft.replace(uid, new)
        return Edit(
            draft,
            f"crossover: {b.name}'s {role.replace('_', ' ')} into {a.name}",
            [
                f"- Took {a.name}, and replaced `{uid}` ({a.units[uid].cls}) with {b.name}'s "
                f"`{donor}` ({b.units[donor].cls})."
            ],
            WHY.get(role, DEFAULT_WHY),
        )

    def scratch(self, rng: random.Random) -> Edit | None:
        blocks = self.pool.of_role("block")
        if not blocks:
            return None
        base = rng.choice(blocks)
        draft = DesignDraft(name="scratch", roots=[], units={}, sources={})
        root = draft.copy_in(base.draft, base.uid)
        draft.roots = [root]
        changes = [f"- Started from {base.origin}'s block wiring ({base.cls})."]
        for slot, child in list(draft.units[root]["children"].items()):
            role = draft.units[child]["role"]
            options = self.pool.of_role(role)
            if options and rng.random() < 0.7:
                entry = rng.choice(options)
                draft.set_child(root, slot, draft.copy_in(entry.draft, entry.uid))
                changes.append(
                    f"- Slot `{slot}`: {entry.cls} from {entry.origin} ({entry.summary})."
                )
        return Edit(
            draft,
            f"scratch: a {base.cls} composed from pool units",
            changes,
            "Composing a block from parts that worked elsewhere explores combinations "
            "no single parent line would reach by small steps.",
        )


def perturb(arg: Arg, value: object, rng: random.Random) -> object | None:
    """A new value for ``arg`` near ``value``, within its declared range (None if stuck)."""
    if arg.choices is not None:
        others = [c for c in arg.choices if c != value]
        return rng.choice(others) if others else None
    if isinstance(arg.default, bool):
        return not value
    new: float
    if isinstance(arg.default, int) and isinstance(value, int):
        # Doubling and halving keep powers of two (head counts, widths) divisible.
        new = value * 2 if rng.random() < 0.5 else max(value // 2, 1)
    elif isinstance(arg.default, float) and isinstance(value, (int, float)):
        if value > 0:
            new = float(value) * math.exp(rng.gauss(0.0, 0.7))
            new = float(f"{new:.3g}")
        else:
            new = float(value) + rng.gauss(0.0, 0.1)
    else:
        return None
    if arg.low is not None:
        new = max(new, arg.low)
    if arg.high is not None:
        new = min(new, arg.high)
    return type(arg.default)(new)


def docstring_why(source: str) -> str:
    doc = module_docstring(source)
    paragraphs = [p.strip().replace("\n", " ") for p in doc.split("\n\n") if p.strip()]
    return paragraphs[1] if len(paragraphs) > 1 else DEFAULT_WHY


def _family(request: DesignRequest) -> str:
    if not request.parents:
        return "scratch"
    return request.parents[0].design.name.split("-")[0]


def _proposal_md(name: str, request: DesignRequest, edit: Edit) -> str:
    parents = ", ".join(f"{p.id} ({p.design.name})" for p in request.parents) or "none"
    return (
        f"# {name}\n\n"
        f"**{request.kind.capitalize()}** by the offline designer. Parents: {parents}.\n\n"
        f"## What changed\n\n{edit.title}\n\n" + "\n".join(edit.changes) + "\n\n"
        f"## Why it might help\n\n{edit.why}\n"
    )
