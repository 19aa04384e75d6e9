"""Shared by the authoring exports (step-level preference pairs, planning SFT rows): agent steps as
chat messages, and the options offered at one step.

Steps become stored-shape message dicts (``to_trl_message`` writes them for TRL):

- ``plan`` and ``message``: an assistant turn with the text (a plan is what planning data trains on,
  so it is content, not hidden reasoning); consecutive plan steps share one turn;
- ``reasoning``: the ``reasoning`` of the next assistant turn (its text, if none follows);
- ``tool_call``: a call on the assistant turn just made by the steps (parallel calls share it), else
  a turn of its own; ``tool_result``: a tool turn, named after the call it answers;
- ``handoff``: its text as an assistant turn, when it has any; ``error``: left out (not model output).
"""

from __future__ import annotations

from typing import Any

Msgs = list[dict[str, Any]]


def task_messages(content: dict[str, Any], kind: str) -> Msgs | None:
    """The record's task as the opening turns: an agent run's task, a conversation, a text, a prompt."""
    if kind == "agent_run":
        task = content["task"]
        return [{"role": "user", "content": task}] if isinstance(task, str) else list(task)
    if kind == "conversation":
        return list(content["messages"])
    if kind == "text":
        return [{"role": "user", "content": content["text"]}]
    if kind == "comparison" and content.get("prompt"):
        return list(content["prompt"])
    return None


def steps_to_messages(steps: list[dict[str, Any]]) -> Msgs:
    """Steps (stored dicts) as the turns that follow the task; see the module docstring."""
    out: Msgs = []
    reasoning: list[str] = []
    names: dict[str, str] = {}  # tool call id -> tool name, to name the results
    last: str | None = None  # the type of the step that made out[-1], when it is an open assistant turn

    def assistant(msg: dict[str, Any]) -> dict[str, Any]:
        if reasoning:
            msg["reasoning"] = "\n".join(reasoning)
            reasoning.clear()
        out.append(msg)
        return msg

    for s in steps:
        t = s["type"]
        if t == "reasoning":
            reasoning.append(s["content"])
            continue
        if t == "plan":
            if last == "plan" and not reasoning:
                out[-1]["content"] += "\n" + s["content"]
            else:
                assistant({"role": "assistant", "content": s["content"]})
            last = "plan"
        elif t == "tool_call":
            call = s["tool_call"]
            if call.get("id"):
                names[call["id"]] = call["name"]
            if last in ("plan", "message", "tool_call") and not reasoning and not s.get("content"):
                out[-1].setdefault("tool_calls", []).append(call)
            else:
                msg: dict[str, Any] = {"role": "assistant", "tool_calls": [call]}
                if s.get("content"):
                    msg["content"] = s["content"]
                assistant(msg)
            last = "tool_call"
        elif t == "tool_result":
            res: dict[str, Any] = {"role": "tool", "content": s["content"]}
            if s.get("tool_call_id"):
                res["tool_call_id"] = s["tool_call_id"]
                if s["tool_call_id"] in names:
                    res["name"] = names[s["tool_call_id"]]
            out.append(res)
            last = None
        elif t == "message" or (t == "handoff" and s.get("content")):
            assistant({"role": "assistant", "content": s["content"]})
            last = "message"
    if reasoning:  # reasoning with nothing after it: keep its text rather than drop it
        out.append({"role": "assistant", "content": "\n".join(reasoning)})
    return out


def option_message(step: dict[str, Any], alternative: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """One option at a step as an assistant turn: the step as recorded (``"taken"``) or an alternative.

    None for steps that are not the model's output (tool results, errors, bare handoffs)."""
    src = alternative if alternative is not None else step
    if alternative is None and step["type"] not in ("tool_call", "plan", "reasoning", "message", "handoff"):
        return None
    msg: dict[str, Any] = {"role": "assistant"}
    if src.get("tool_call"):
        msg["tool_calls"] = [src["tool_call"]]
    if src.get("content") is not None:
        msg["content"] = src["content"]
    return msg if len(msg) > 1 else None


def step_options(step: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The options at a step by id (``"taken"`` first, then the alternatives), as assistant turns."""
    out: dict[str, dict[str, Any]] = {}
    taken = option_message(step)
    if taken is not None:
        out["taken"] = taken
    for alt in step.get("alternatives") or []:
        msg = option_message(step, alt)
        if msg is not None:
            out[alt["id"]] = msg
    return out
