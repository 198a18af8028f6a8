"""The agent dialogue: the design sessions' messages, streaming, by role, in reading order.

LLM designers stream replies in small chunks (cut at whitespace); the offline designer says its
rationale in one piece. Chunks of the same role and session are joined and written a line at a
time; a new role or session starts a new message under a coloured heading, and a resize wraps
every line again at the new width. A session's proposal ("... proposes ...") arrives after its
messages, but reads as their headline: it is placed before the session's first message.
Empty, the pane says what will appear in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import RenderableType
from rich.text import Text
from textual import events
from textual.widgets import RichLog

from genesys_tui.evolve import events as ev
from genesys_tui.tui.widgets.palette import theme_colour

ROLE_VARS = {
    "proposer": "primary",
    "reviewer": "accent",
    "planner": "secondary",
    "coder": "success",
    "observer": "warning",
    "designer": "primary",
}
PLACEHOLDER = "no agent dialogue yet: the designers' messages stream here while the loop runs"
MAX_ENTRIES = 2000


@dataclass
class _Entry:
    session: str  # the design session it belongs to ("" for loop notes)
    content: RenderableType


class DialogueLog(RichLog):
    DEFAULT_CSS = """
    /* No scrollbars: it follows the newest message, and a one-cell thumb reads as a stray
       block among the text; the wheel and the keys still scroll it. */
    DialogueLog { background: $surface; scrollbar-size-vertical: 0; scrollbar-size-horizontal: 0; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(wrap=True, markup=False, max_lines=MAX_ENTRIES, min_width=20, **kwargs)  # type: ignore[arg-type]
        self._speaker: tuple[str, str] | None = None  # (session, role) of the open message
        self._pending = ""
        self._entries: list[_Entry] = []
        self._open: list[str] = []  # sessions with messages and no proposal yet, oldest first
        self._wrapped_at = 0  # the width the lines were wrapped at

    def on_mount(self) -> None:
        self._redraw()

    def on_resize(self, event: events.Resize) -> None:
        # RichLog wraps a line once, at the width it had then: wrap everything again at the
        # new width, or a terminal made wider keeps the narrow lines.
        if event.size.width != self._wrapped_at:
            self._wrapped_at = event.size.width
            self._redraw()

    @property
    def lines_text(self) -> list[str]:
        """What the pane holds, one string per entry (for tests and the help)."""
        return [
            e.content.plain if isinstance(e.content, Text) else str(e.content)
            for e in self._entries
        ]

    def add(self, event: ev.Event) -> None:
        """Show a Dialogue event (streamed text) or a design's proposal and commit."""
        if isinstance(event, ev.Dialogue):
            speaker = (event.session, event.role)
            if speaker != self._speaker:
                self.flush()
                self._append(event.session, self._heading(event.role, event.session))
                self._speaker = speaker
                if event.session not in self._open:
                    self._open.append(event.session)
            self._pending += event.text
            if "\n" in self._pending:
                done, _, self._pending = self._pending.rpartition("\n")
                self._append(event.session, done)
        elif isinstance(event, ev.DesignProposed):
            self.flush()
            parents = ", ".join(event.parents) or "nothing"
            note = self._note(
                f"{event.designer} proposes {event.title!r}: {event.operation} of {parents}"
            )
            # The session that spoke last is the one that just finished, mostly.
            session = self._latest_open()
            if session is not None:
                self._open.remove(session)
            self._insert_before(session, note)
        elif isinstance(event, ev.DesignCommitted):
            self.flush()
            ended = self._latest_open() if event.status == "failed" else None
            if ended is not None:
                self._open.remove(ended)  # a failed design ends its session, unproposed
            self._append("", self._note(f"committed {event.design} [{event.status}]"))
        elif isinstance(event, ev.LoopError):
            self.flush()
            self._speaker = None
            self._append("", Text(f"error: {event.message}", style=self._var("error")))

    def flush(self) -> None:
        """Write what is held of the open message (the stream paused, or a turn ended)."""
        if self._pending.strip() and self._speaker is not None:
            self._append(self._speaker[0], self._pending)
        self._pending = ""

    # ---- entries -----------------------------------------------------------------------------

    def _latest_open(self) -> str | None:
        """The open session with the most recent message."""
        for entry in reversed(self._entries):
            if entry.session in self._open:
                return entry.session
        return None

    def _append(self, session: str, content: RenderableType) -> None:
        first = not self._entries
        self._entries.append(_Entry(session, content))
        if len(self._entries) > MAX_ENTRIES:
            del self._entries[: len(self._entries) - MAX_ENTRIES]
        if first:
            self._redraw()  # the placeholder goes
        else:
            self.write(content)

    def _insert_before(self, session: str | None, content: RenderableType) -> None:
        """Put ``content`` before the first entry of ``session`` (at the end without one)."""
        at = next((i for i, e in enumerate(self._entries) if e.session == session), None)
        if session is None or at is None:
            self._append(session or "", content)
            return
        self._entries.insert(at, _Entry(session, content))
        self._speaker = None
        self._redraw()

    def _redraw(self) -> None:
        self.clear()
        if not self._entries:
            self.write(Text(PLACEHOLDER, style=self._var("foreground-muted")))
            return
        for entry in self._entries:
            self.write(entry.content)

    # ---- rendering ---------------------------------------------------------------------------

    def _heading(self, role: str, session: str) -> Text:
        text = Text(role, style=f"bold {self._var(ROLE_VARS.get(role, 'foreground'))}")
        if session:
            text.append(f"  {session}", style=self._var("foreground-muted"))
        return text

    def _note(self, text: str) -> Text:
        self._speaker = None
        return Text(f"· {text}", style=self._var("foreground-muted"))

    def _var(self, name: str) -> str:
        return theme_colour(self.app, name)
