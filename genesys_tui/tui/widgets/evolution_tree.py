"""The evolution tree: the namespace's family tree, live.

Seeds are roots; each design sits under its first parent, and a crossover also appears under
its other parents as a link (``⤷``) that names where its subtree is drawn. Each label shows the
status glyph and, once verified, the fitness, coloured by sign. Selecting a node (Enter) asks
for the design's inspector, on a link too.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from genesys_tui.store.records import DesignRecord
from genesys_tui.tui.board import shown_status
from genesys_tui.tui.family import Family, Placement, family, lineage
from genesys_tui.tui.widgets.palette import colours, glyph, signed


class EvolutionTree(Tree[str]):
    DEFAULT_CSS = """
    EvolutionTree {
        background: $surface; scrollbar-size-vertical: 1; scrollbar-size-horizontal: 0;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "inspect")]

    class Inspect(Message):
        def __init__(self, design: str) -> None:
            super().__init__()
            self.design = design

    def __init__(self, expand_limit: int = 300, **kwargs: object) -> None:
        super().__init__("designs", **kwargs)  # type: ignore[arg-type]
        self.show_root = False
        self.guide_depth = 2
        self.auto_expand = False
        self.expand_limit = expand_limit
        self.family = Family()
        self.records: dict[str, DesignRecord] = {}
        self._design_nodes: dict[str, TreeNode[str]] = {}
        self._link_nodes: dict[str, list[TreeNode[str]]] = {}
        self._populated: set[str] = set()  # designs whose children have been added
        self._palette: dict[str, str] | None = None

    # ---- building --------------------------------------------------------------------------
    # Children are added when their parent is first expanded, so a namespace of thousands of
    # designs opens as fast as a small one; small namespaces start fully expanded.

    def load(self, records: list[DesignRecord]) -> None:
        """Show ``records`` (commit order), replacing what is shown."""
        self.clear()
        self._design_nodes, self._link_nodes, self._populated = {}, {}, set()
        self.records = {r.id: r for r in records}
        self.family = family(records)
        self._palette = colours(self.app)
        expand = len(records) <= self.expand_limit
        for root in self.family.roots:
            self._add(Placement(root, None), expand)
        self.root.expand()

    def _add(self, placement: Placement, expand: bool) -> None:
        parent = self.root if placement.parent is None else self._design_nodes[placement.parent]
        record = self.records[placement.design]
        if placement.link:
            node = parent.add_leaf(self._link_label(record, self.palette), data=record.id)
            self._link_nodes.setdefault(record.id, []).append(node)
            return
        node = parent.add(self._label(record, self.palette), data=record.id)
        node.allow_expand = bool(self.family.children.get(record.id))
        self._design_nodes[record.id] = node
        if expand:
            self._populate(record.id, expand)
            node.expand()

    def _populate(self, design: str, expand: bool = False) -> None:
        if design in self._populated:
            return
        self._populated.add(design)
        for placement in self.family.children.get(design, []):
            self._add(placement, expand)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        event.stop()
        if event.node.data is not None and event.node is self._design_nodes.get(event.node.data):
            self._populate(event.node.data)

    def upsert(self, record: DesignRecord) -> None:
        """Add a new design where it belongs, or refresh the labels of a known one."""
        known = record.id in self.records
        self.records[record.id] = record
        if known:
            if record.id in self._design_nodes:
                self._design_nodes[record.id].set_label(self._label(record, self.palette))
            for link in self._link_nodes.get(record.id, []):
                link.set_label(self._link_label(record, self.palette))
            return
        for placement in self.family.add(record):
            if placement.parent is None:
                self._add(placement, expand=True)
                continue
            parent = self._design_nodes.get(placement.parent)
            if parent is None:
                continue  # inside a collapsed subtree: added when it is expanded
            parent.allow_expand = True
            if placement.parent in self._populated:
                self._add(placement, expand=True)

    def relabel(self) -> None:
        """Redraw every label (the theme changed)."""
        self._palette = colours(self.app)
        for design, node in self._design_nodes.items():
            node.set_label(self._label(self.records[design], self.palette))
        for design, links in self._link_nodes.items():
            for link in links:
                link.set_label(self._link_label(self.records[design], self.palette))

    @property
    def palette(self) -> dict[str, str]:
        if self._palette is None:
            self._palette = colours(self.app)
        return self._palette

    # ---- labels ----------------------------------------------------------------------------

    @staticmethod
    def _label(record: DesignRecord, palette: dict[str, str]) -> Text:
        text = Text.assemble(glyph(shown_status(record), palette), " ", record.id)
        if record.fitness is not None:
            text.append(" ")
            text.append_text(signed(record.fitness, palette))
        if len(record.parents) > 1:
            text.append(" ⨯", style=palette["accent"])
        return text

    @staticmethod
    def _link_label(record: DesignRecord, palette: dict[str, str]) -> Text:
        first = record.parents[0] if record.parents else "?"
        return Text.assemble(
            ("⤷ ", palette["accent"]), record.id, (f" (crossover, under {first})", palette["muted"])
        )

    # ---- navigation ------------------------------------------------------------------------

    def select_design(self, design: str) -> bool:
        """Expand the design's first-parent line and put the cursor on it."""
        if design not in self.records:
            return False
        line = lineage(self.records, design)
        if line[0] not in self._design_nodes:
            return False
        for ancestor in line[:-1]:
            self._populate(ancestor)
            self._design_nodes[ancestor].expand()
        node = self._design_nodes[design]
        self.call_after_refresh(self._move_to, node)
        return True

    def _move_to(self, node: TreeNode[str]) -> None:
        self.move_cursor(node)
        self.scroll_to_node(node)

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.Inspect(event.node.data))
