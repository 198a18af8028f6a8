"""The agent dialogue: the current design session's messages, streaming, by role.

LLM designers stream replies in small chunks (cut at whitespace); the offline designer says its
rationale in one piece. Chunks of the same role and session are joined and written a line at a
time; a new role or session starts a new message under a coloured heading.
"""

from __future__ import annotations

from rich.text import Text
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


class DialogueLog(RichLog):
    DEFAULT_CSS = """
    DialogueLog { background: $surface; scrollbar-size-vertical: 1; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(wrap=True, markup=False, max_lines=2000, min_width=20, **kwargs)  # type: ignore[arg-type]
        self._speaker: tuple[str, str] | None = None  # (session, role) of the open message
        self._pending = ""

    def add(self, event: ev.Event) -> None:
        """Show a Dialogue event (streamed text) or a design's proposal and commit."""
        if isinstance(event, ev.Dialogue):
            speaker = (event.session, event.role)
            if speaker != self._speaker:
                self.flush()
                self._heading(event.role, event.session)
                self._speaker = speaker
            self._pending += event.text
            if "\n" in self._pending:
                done, _, self._pending = self._pending.rpartition("\n")
                self.write(done)
        elif isinstance(event, ev.DesignProposed):
            self.flush()
            parents = ", ".join(event.parents) or "nothing"
            self._note(f"{event.designer} proposes {event.title!r}: {event.operation} of {parents}")
        elif isinstance(event, ev.DesignCommitted):
            self.flush()
            self._note(f"committed {event.design} [{event.status}]")
        elif isinstance(event, ev.LoopError):
            self.flush()
            self.write(Text(f"error: {event.message}", style=self._var("error")))

    def flush(self) -> None:
        """Write what is held of the open message (the stream paused, or a turn ended)."""
        if self._pending.strip():
            self.write(self._pending)
        self._pending = ""

    def _heading(self, role: str, session: str) -> None:
        text = Text(role, style=f"bold {self._var(ROLE_VARS.get(role, 'foreground'))}")
        if session:
            text.append(f"  {session}", style=self._var("foreground-muted"))
        self.write(text)

    def _note(self, text: str) -> None:
        self._speaker = None
        self.write(Text(f"· {text}", style=self._var("foreground-muted")))

    def _var(self, name: str) -> str:
        return theme_colour(self.app, name)
