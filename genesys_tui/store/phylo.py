"""The phylogeny as text: each design under its first parent, like ``tree`` draws folders.

A crossover sits under its first parent and names its other parents (``x mamba2-2``); under
each other parent a one-line cross-reference points back to it, so every edge of the family
graph is visible once and the text stays a tree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from genesys_tui.store.records import DesignRecord


def describe(record: DesignRecord) -> str:
    """The one-line label of a design: id, status, fitness, designer and title."""
    fitness = f" fitness={record.fitness:.4g}" if record.fitness is not None else ""
    return f"{record.id} [{record.status}{fitness}] {record.designer}: {record.title}"


def phylogeny(
    records: Sequence[DesignRecord],
    *,
    root: str | None = None,
    max_depth: int | None = None,
    label: Callable[[DesignRecord], str] = describe,
) -> str:
    """The family tree of ``records`` as text (every root design, or only ``root``'s subtree).

    ``max_depth`` (0 = roots only) elides deeper descendants with a count.
    """
    by_id = {r.id: r for r in records}
    children: dict[str, list[DesignRecord]] = {r.id: [] for r in records}
    crossings: dict[str, list[DesignRecord]] = {r.id: [] for r in records}
    for r in sorted(records, key=lambda r: r.seq):
        known = [p for p in r.parents if p in by_id]
        if known:
            children[known[0]].append(r)
            for other in known[1:]:
                crossings[other].append(r)
    if root is not None:
        starts = [by_id[root]]
    else:
        starts = [r for r in records if not any(p in by_id for p in r.parents)]
    lines: list[str] = []

    def size(design_id: str) -> int:
        count, stack = 0, list(children[design_id])
        while stack:
            count += 1
            stack.extend(children[stack.pop().id])
        return count

    # An explicit stack: lineages thousands of generations deep would overflow recursion.
    # Items: (design or cross-reference text, prefix, branch drawn before it, depth).
    stack: list[tuple[DesignRecord | str, str, str, int]] = [
        (r, "", "", 0) for r in sorted(starts, key=lambda r: r.seq, reverse=True)
    ]
    while stack:
        item, prefix, branch, depth = stack.pop()
        if isinstance(item, str):
            lines.append(f"{prefix}{branch}{item}")
            continue
        others = [p for p in item.parents if p in by_id][1:]
        cross = f"  x {' x '.join(others)}" if others else ""
        lines.append(f"{prefix}{branch}{label(item)}{cross}")
        below = prefix + ("" if not branch else "    " if branch == "└── " else "│   ")
        kids: list[DesignRecord | str] = list(children[item.id])
        kids += [f"(also parent of {c.id}, shown under {c.parents[0]})" for c in crossings[item.id]]
        if max_depth is not None and depth >= max_depth and kids:
            lines.append(f"{below}└── ... {size(item.id)} more below")
            continue
        for i in reversed(range(len(kids))):
            stack.append((kids[i], below, "└── " if i == len(kids) - 1 else "├── ", depth + 1))
    return "\n".join(lines)
