"""Notes: a knowledge base the agent edits with tools, always in context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from longplay.agents.lm.messages import ToolSpec
from longplay.agents.lm.tools import Tool, ToolError
from longplay.scaffolds.base import Component

_TITLE = {"type": "string", "description": 'section title, e.g. "Route 1" or "Team"', "maxLength": 80}


@dataclass
class Notes(Component):
    """Named sections of notes the agent adds, updates and deletes; shown in full in every prompt."""

    name = "notes"
    version = "1"

    max_chars: int = 4000
    """Most characters of all notes together (edits past it are refused, so the context stays bounded)."""
    max_sections: int = 30
    """Most sections."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_at_least(max_chars=1, max_sections=1)
        self.notes: dict[str, str] = {}

    def _size(self, notes: dict[str, str]) -> int:
        return sum(len(k) + len(v) for k, v in notes.items())

    def _set(self, title: str, text: str, must_exist: bool) -> str:
        title = " ".join(title.split())
        if not title:
            raise ToolError("the title is empty")
        if must_exist and title not in self.notes:
            raise ToolError(f"no section {title!r}; sections: {', '.join(self.notes) or 'none'}")
        if not must_exist and title in self.notes:
            raise ToolError(f"section {title!r} exists; use update_note to change it")
        if not must_exist and len(self.notes) >= self.max_sections:
            raise ToolError(f"at most {self.max_sections} sections; delete or merge some first")
        trial = dict(self.notes)
        trial[title] = text.strip()
        if self._size(trial) > self.max_chars:
            raise ToolError(
                f"notes would hold {self._size(trial)} characters, over the limit of {self.max_chars}; "
                "shorten or delete sections first"
            )
        self.notes = trial
        self.changed()
        verb = "Updated" if must_exist else "Added"
        return f"{verb} note {title!r} ({self._size(self.notes)}/{self.max_chars} characters used)."

    def tools(self) -> list[Tool]:
        text = {"type": "string", "description": "the section's text"}
        schema = {
            "type": "object",
            "additionalProperties": False,
            "required": ["title", "text"],
            "properties": {"title": _TITLE, "text": text},
        }

        def delete(args: dict[str, Any]) -> str:
            title = " ".join(args["title"].split())
            if title not in self.notes:
                raise ToolError(f"no section {title!r}; sections: {', '.join(self.notes) or 'none'}")
            del self.notes[title]
            self.changed()
            return f"Deleted note {title!r}."

        return [
            Tool(
                ToolSpec("add_note", "Add a section to your notes (kept in every prompt).", schema),
                lambda a: self._set(a["title"], a["text"], False),
            ),
            Tool(
                ToolSpec("update_note", "Replace the text of a section of your notes.", schema),
                lambda a: self._set(a["title"], a["text"], True),
            ),
            Tool(
                ToolSpec(
                    "delete_note",
                    "Delete a section of your notes.",
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["title"],
                        "properties": {"title": _TITLE},
                    },
                ),
                delete,
            ),
        ]

    def section(self) -> tuple[str, str]:
        if not self.notes:
            return "Notes", "(empty: add_note to remember things)"
        return "Notes", "\n".join(f"### {k}\n{v}" for k, v in self.notes.items())

    def state_dict(self) -> dict[str, Any]:
        return {"notes": dict(self.notes)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.notes = dict(state["notes"])

    def snapshot(self) -> dict[str, Any]:
        return dict(self.notes)
