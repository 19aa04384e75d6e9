"""Each scorer on the answers it must accept and refuse; the code sandbox's three walls."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from thresher.errors import ConfigError
from thresher.evals import CallableAdapter, EvalItem, get_scorer, sandbox
from thresher.evals.sandbox import run_sandboxed
from thresher.evals.scorers import scorer_name_for, scorers
from thresher.evals.scorers.code_tests import pass_at_k
from thresher.evals.scorers.judge import judge_pair


def item(reference: str | list[str] | None = None, **kw: object) -> EvalItem:
    return EvalItem("r1", [{"role": "user", "content": "q"}], reference, **kw)  # type: ignore[arg-type]


def value(name: str, it: EvalItem, output: str, **options: object) -> float | None:
    return get_scorer(name, **options).score(it, output).value


def test_registry_lists_every_scorer() -> None:
    assert set(scorers()) >= {"exact", "normalized", "numeric", "choice", "regex", "json_schema", "code_tests", "judge"}
    with pytest.raises(ConfigError, match="no scorer"):
        get_scorer("nope")
    assert scorer_name_for(item("x")) == "normalized"
    assert scorer_name_for(item("B", choices=["a", "b"])) == "choice"
    assert scorer_name_for(item(grader={"type": "numeric"})) == "numeric"


def test_exact_and_normalized() -> None:
    assert value("exact", item("Paris"), " Paris ") == 1.0
    assert value("exact", item("Paris"), "paris") == 0.0
    assert value("normalized", item(["The Eiffel Tower", "eiffel"]), "eiffel tower!") == 1.0
    assert value("normalized", item("Paris"), "Lyon") == 0.0


@pytest.mark.parametrize(
    ("output", "ok"),
    [
        ("Step 1... #### 1,234", True),
        ("So the answer is $1234.", True),
        ("I think 12 then 1234", True),
        ("answer: 1234.0", True),
        ("The answer is 1235", False),
        ("no number", False),
    ],
)
def test_numeric_extraction(output: str, ok: bool) -> None:
    assert value("numeric", item("1234"), output) == float(ok)


@pytest.mark.parametrize(
    ("output", "ok"),
    [("Answer: B", True), ("(B) because", True), ("B. Mercury", True), ("mercury", True), ("A", False), ("", False)],
)
def test_multiple_choice(output: str, ok: bool) -> None:
    assert value("choice", item("B", choices=["Venus", "Mercury", "Mars"]), output) == float(ok)
    assert value("choice", item("Mercury", choices=["Venus", "Mercury"]), output or "x") == float(ok)


def test_regex_and_json_schema() -> None:
    assert value("regex", item(grader={"type": "regex", "params": {"pattern": r"^\d{3}$"}}), "123") == 1.0
    assert value("regex", item(r"\bcat\b"), "a dog") == 0.0
    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    it = item(grader={"type": "json_schema", "params": {"schema": schema}})
    assert value("json_schema", it, '```json\n{"name": "x"}\n```') == 1.0
    bad = get_scorer("json_schema").score(it, '{"name": 3}')
    assert bad.value == 0.0 and "not of type" in bad.details["error"]
    assert value("json_schema", it, "not json") == 0.0


def test_pass_at_k_estimator() -> None:
    assert pass_at_k(10, 0, 1) == 0.0 and pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 1, 2) == pytest.approx(0.4)


HUMANEVAL = item(
    grader={
        "type": "code_tests",
        "params": {
            "prompt": "def add(a, b):\n",
            "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n",
            "entry_point": "add",
        },
    }
)


def test_code_tests_pass_and_fail() -> None:
    scorer = get_scorer("code_tests", timeout_s=5)
    assert scorer.score(HUMANEVAL, "```python\ndef add(a, b):\n    return a + b\n```").passed is True
    assert scorer.score(HUMANEVAL, "    return a + b\n").passed is True  # a body completing the prompt
    failed = scorer.score(HUMANEVAL, "    return a - b\n")
    assert failed.passed is False and "AssertionError" in failed.details["stderr"]


def test_sandbox_kills_code_past_its_time_limit() -> None:
    t0 = time.perf_counter()
    r = run_sandboxed("while True:\n    pass\n", timeout_s=1.0)
    assert r.timed_out and not r.ok and time.perf_counter() - t0 < 5


def test_sandbox_limits_memory() -> None:
    r = run_sandboxed("x = bytearray(2 * 1024 ** 3)\n", memory_mb=256)
    assert not r.ok and "MemoryError" in r.stderr


@pytest.mark.parametrize("layer", ["namespace", "audit-hook"])
def test_sandbox_has_no_network(layer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if layer == "namespace" and not sandbox.network_namespace_available():
        pytest.skip("unshare -n is not allowed here; the audit hook alone guards the network")
    if layer == "audit-hook":  # without the namespace, the hook alone must refuse the connection
        monkeypatch.setattr(sandbox, "network_namespace_available", lambda: False)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted: list[object] = []
    listener.settimeout(1)
    t = threading.Thread(target=lambda: accepted.append(_accept(listener)), daemon=True)
    t.start()
    try:
        code = f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))\nprint('connected')\n"
        r = run_sandboxed(code, timeout_s=5)
        assert not r.ok and "connected" not in r.stdout
        if layer == "audit-hook":
            assert "sandbox: no network" in r.stderr
        else:
            assert "PermissionError" in r.stderr or "unreachable" in r.stderr or "Refused" in r.stderr
        t.join(3)
        assert accepted == [None], "the sandboxed code reached the listener"
    finally:
        listener.close()


def _accept(listener: socket.socket) -> object:
    try:
        conn, _ = listener.accept()
        conn.close()
        return "connected"
    except OSError:
        return None


def test_sandbox_cannot_read_or_write_outside_its_folder(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    r = run_sandboxed(f"print(open({str(secret)!r}).read())\n")
    assert not r.ok and "s3cret" not in r.stdout and "PermissionError" in r.stderr
    r = run_sandboxed(f"open({str(tmp_path / 'out.txt')!r}, 'w').write('x')\n")
    assert not r.ok and not (tmp_path / "out.txt").exists()
    r = run_sandboxed("import os\nos.system('true')\n")
    assert not r.ok and "not allowed" in r.stderr
    r = run_sandboxed("open('scratch.txt', 'w').write('ok')\nprint(open('scratch.txt').read())\n")
    assert r.ok and r.stdout.strip() == "ok"  # its own folder is writable


def test_judge_scores_through_any_adapter() -> None:
    prompts: list[str] = []

    def judge(messages: list[dict[str, str]], params: object) -> str:
        prompts.append(messages[0]["content"])
        return "Fine answer.\nScore: 4"

    scorer = get_scorer("judge", adapter=CallableAdapter(judge, name="judge-1"), rubric="be right")
    s = scorer.score(item("42"), "It is 42.")
    assert s.value == pytest.approx(0.75) and s.details["judge_rating"] == 4
    assert s.details["prompt_version"] == "rubric-v1" and scorer.spec()["judge"] == "callable:judge-1"
    assert "be right" in prompts[0] and "Reference answer:\n42" in prompts[0] and "It is 42." in prompts[0]
    unparsable = get_scorer("judge", adapter=CallableAdapter(lambda m, p: "no idea", name="j")).score(item("1"), "1")
    assert unparsable.value is None and "judge_error" in unparsable.details
    with pytest.raises(ConfigError, match="judge model"):
        get_scorer("judge")


def test_pairwise_judge_calls_order_flips_a_tie() -> None:
    import asyncio

    def prefers_first(messages: list[dict[str, str]], params: object) -> str:
        return "Winner: A"

    def prefers_longer(messages: list[dict[str, str]], params: object) -> str:
        text = messages[0]["content"]
        a = text.split("Answer A:\n")[1].split("\n\nAnswer B:")[0]
        b = text.split("Answer B:\n")[1].split("\n\nExplain")[0]
        return "Winner: A" if len(a) > len(b) else "Winner: B"

    msgs = [{"role": "user", "content": "q"}]
    assert asyncio.run(judge_pair(CallableAdapter(prefers_first), msgs, "x", "yy")) == "tie"  # position bias
    assert asyncio.run(judge_pair(CallableAdapter(prefers_longer), msgs, "x", "yyy")) == "b"
