"""Goals: a stack of goals the agent pushes and pops with tools, shown in every prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from longplay.agents.lm.messages import ToolSpec
from longplay.agents.lm.tools import Tool, ToolError
from longplay.scaffolds.base import Component


@dataclass
class Goals(Component):
    """A goal stack: the top is the current goal; finished goals are listed briefly."""

    name = "goals"
    version = "1"

    max_depth: int = 8
    """Most goals on the stack."""
    max_chars: int = 200
    """Most characters of one goal."""
    recent: int = 5
    """Finished (done or dropped) goals still shown."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_at_least(max_depth=1, max_chars=1, recent=0)
        self.stack: list[str] = []
        self.finished: list[str] = []

    def tools(self) -> list[Tool]:
        def push(args: dict[str, Any]) -> str:
            goal = " ".join(args["goal"].split())
            if not goal:
                raise ToolError("the goal is empty")
            if len(self.stack) >= self.max_depth:
                raise ToolError(f"the stack holds at most {self.max_depth} goals; finish or drop one first")
            self.stack.append(goal)
            self.changed()
            return f"Current goal: {goal} (depth {len(self.stack)})."

        def pop(args: dict[str, Any]) -> str:
            if not self.stack:
                raise ToolError("there is no goal to finish")
            goal = self.stack.pop()
            self.finished = ([f"{args['outcome']}: {goal}"] + self.finished)[: self.recent]
            self.changed()
            return f"Goal {args['outcome']}: {goal}. " + (
                f"Current goal: {self.stack[-1]}." if self.stack else "No goal left."
            )

        return [
            Tool(
                ToolSpec(
                    "push_goal",
                    "Push a new current goal (a subgoal of the one below it).",
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["goal"],
                        "properties": {"goal": {"type": "string", "maxLength": self.max_chars}},
                    },
                ),
                push,
            ),
            Tool(
                ToolSpec(
                    "pop_goal",
                    "Finish the current goal: done, or dropped.",
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["outcome"],
                        "properties": {"outcome": {"type": "string", "enum": ["done", "dropped"]}},
                    },
                ),
                pop,
            ),
        ]

    def section(self) -> tuple[str, str]:
        lines = [f"{'-> ' if i == 0 else '   '}{g}" for i, g in enumerate(reversed(self.stack))]
        if not lines:
            lines = ["(none: push_goal to set one)"]
        if self.finished:
            lines.append("recently finished: " + "; ".join(self.finished))
        return "Goals (current first)", "\n".join(lines)

    def state_dict(self) -> dict[str, Any]:
        return {"stack": list(self.stack), "finished": list(self.finished)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.stack, self.finished = list(state["stack"]), list(state["finished"])

    def snapshot(self) -> dict[str, Any]:
        return self.state_dict()
