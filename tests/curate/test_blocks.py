"""Blocks one by one, on small items."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from thresher.curate import block
from thresher.curate._items import Item
from thresher.curate.blocks.contamination import BenchmarkSpec, read_benchmark
from thresher.curate.blocks.pii import find_pii, luhn


def text_item(i: str, text: str, **kw: object) -> Item:
    return Item(id=i, kind="text", content={"text": text}, **kw)  # type: ignore[arg-type]


def chat(i: str, user: str, answer: str) -> Item:
    msgs = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return Item(id=i, kind="conversation", content={"messages": msgs})


def test_pii_finds_and_redacts_each_kind() -> None:
    text = (
        "Mail jane.doe@example.com or call +1 415-555-0132 from 192.168.1.20; card 4111 1111 1111 1111; "
        "key AKIAIOSFODNN7EXAMPLE and token=abcdEFGH1234ijklMNOP5678"
    )
    kinds = [k for _, _, k in find_pii(text)]
    assert kinds == ["email", "phone", "ip", "credit_card", "secret", "secret"]
    assert not luhn("4111111111111112")
    blk = block("pii").build()
    it = chat("1", "hi", text)
    v = blk.apply(it)  # type: ignore[union-attr]
    assert v.action == "changed" and v.detail == {
        "found": {"credit_card": 1, "email": 1, "ip": 1, "phone": 1, "secret": 2}
    }
    out = it.content["messages"][1]["content"]
    assert "jane.doe" not in out and "[EMAIL]" in out and "[CREDIT_CARD]" in out and "4111" not in out


def test_pii_leaves_plain_numbers_alone() -> None:
    assert find_pii("Version 1.2.3 shipped 2026-11-25 with 1234567 downloads and order 4111111111111112.") == []


def test_fix_unicode_repairs_mojibake() -> None:
    it = text_item("1", "The cafÃ© is open â€” come in.")
    v = block("fix_unicode").build().apply(it)  # type: ignore[union-attr]
    assert v.action == "changed" and it.content["text"] == "The café is open — come in."


def test_conversation_quality_reasons() -> None:
    blk = block("conversation_quality").build()
    assert blk.apply(chat("1", "Capital of France?", "Paris.")).action == "kept"  # type: ignore[union-attr]
    assert blk.apply(chat("2", "Write a poem", "As an AI language model, I can't.")).reason == "refusal"  # type: ignore[union-attr]
    assert blk.apply(chat("3", "Explain DNS", "DNS maps names to addresses and")).reason == "truncated_answer"  # type: ignore[union-attr]
    assert blk.apply(chat("4", "Hi", "  ")).reason == "empty_turn"  # type: ignore[union-attr]


def test_text_quality_gopher_and_length() -> None:
    blk = block("text_quality", gopher_min_words=5, min_chars=10).build()
    good = (
        "Rivers carry sediment toward distant seas. Over centuries, deltas grow, shift and split as seasonal "
        "floods deposit fresh silt; farmers settle on those fertile plains, while engineers build levees "
        "hoping to tame each channel."
    )
    assert blk.apply(text_item("1", good)).action == "kept"  # type: ignore[union-attr]
    assert blk.apply(text_item("2", "short")).reason == "too_short"  # type: ignore[union-attr]
    spam = "buy now buy now buy now buy now buy now buy now buy now buy now buy now buy now"
    assert blk.apply(text_item("3", spam)).reason.startswith("gopher")  # type: ignore[union-attr]


def test_language_sets_metadata_and_drops_unkept() -> None:
    blk = block("language", keep=["en"]).build()
    en = text_item("1", "The weather is lovely today and we are going to the park.")
    assert blk.apply(en).action == "kept" and en.metadata["language"] == "en"  # type: ignore[union-attr]
    fr = text_item("2", "Le temps est magnifique aujourd'hui et nous allons au parc.")
    v = blk.apply(fr)  # type: ignore[union-attr]
    assert v.action == "dropped" and v.detail and v.detail["language"] == "fr"


def test_language_mismatch_between_prompt_and_answer() -> None:
    blk = block("language", mismatch="drop").build()
    v = blk.apply(
        chat("1", "What time does the museum open on Sundays?", "Le musée ouvre à dix heures le dimanche matin.")
    )  # type: ignore[union-attr]
    assert v.reason == "language_mismatch"


def test_unknown_kind_in_select_is_a_load_error() -> None:
    from thresher.errors import DataError

    with pytest.raises(DataError, match="unknown record kinds"):
        block("select", kinds=["txt"])


# -- contamination: benchmark files as the projects ship them --------------------------------

GSM8K = [
    {
        "question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
        "How many clips did Natalia sell altogether in April and May?",
        "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips "
        "altogether in April and May.\n#### 72",
    },
    {
        "question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
        "How much did she earn?",
        "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she earned "
        "0.2 x 50 = $<<0.2*50=10>>10.\n#### 10",
    },
]
MMLU = [
    ["Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.", "0", "4", "2", "6", "B"],
    [
        "Which of the following is the body cavity that contains the pituitary gland?",
        "Abdominal",
        "Cranial",
        "Pleural",
        "Spinal",
        "B",
    ],
]
HUMANEVAL = [
    {
        "task_id": "HumanEval/0",
        "prompt": "from typing import List\n\n\n"
        "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
        '    """ Check if in given list of numbers, are any two numbers closer to each other than\n'
        '    given threshold.\n    """\n',
        "canonical_solution": "    for idx, elem in enumerate(numbers):\n"
        "        for idx2, elem2 in enumerate(numbers):\n"
        "            if idx != idx2:\n                distance = abs(elem - elem2)\n"
        "                if distance < threshold:\n                    return True\n\n    return False\n",
        "test": "def check(candidate):\n    assert candidate([1.0, 2.0, 3.9], 0.3) == False\n",
        "entry_point": "has_close_elements",
    }
]


def write_benchmarks(tmp: Path) -> list[BenchmarkSpec]:
    (tmp / "gsm8k_test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GSM8K))
    with (tmp / "anatomy_test.csv").open("w", newline="") as f:
        csv.writer(f).writerows(MMLU)
    (tmp / "HumanEval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in HUMANEVAL))
    return [
        BenchmarkSpec(path=str(tmp / "gsm8k_test.jsonl"), format="gsm8k", name="gsm8k"),
        BenchmarkSpec(path=str(tmp / "anatomy_test.csv"), format="mmlu", name="mmlu"),
        BenchmarkSpec(path=str(tmp / "HumanEval.jsonl"), format="humaneval", name="humaneval"),
    ]


def test_contamination_flags_the_matching_item(tmp_path: Path) -> None:
    specs = write_benchmarks(tmp_path)
    assert read_benchmark(specs[2])[0][0] == "HumanEval/0"
    blk = block("contamination", benchmarks=[s.model_dump() for s in specs], n=13).build()
    leaked = chat("1", "Solve: " + GSM8K[1]["question"], "She earned $10.")
    v = blk.apply(leaked)  # type: ignore[union-attr]
    assert v.action == "flagged" and v.detail and v.detail["benchmark"] == "gsm8k" and v.detail["item"] == "gsm8k:2"
    assert leaked.metadata["contamination"] == {"benchmark": "gsm8k", "item": "gsm8k:2"}
    mmlu = text_item("2", "Quiz: which of the following is the body cavity that contains the pituitary gland? Cranial.")
    assert blk.apply(mmlu).detail["item"] == "mmlu:2"  # type: ignore[union-attr, index]
    code = text_item("3", "def f(numbers, threshold):\n" + HUMANEVAL[0]["canonical_solution"])
    assert blk.apply(code).detail["item"] == "HumanEval/0"  # type: ignore[union-attr, index]
    clean = chat("4", "How many clips did you buy?", "Natalia sold some clips to her friends in April.")
    assert blk.apply(clean).action == "kept"  # type: ignore[union-attr]


def test_bad_benchmark_row_names_file_line_and_field(tmp_path: Path) -> None:
    from thresher.errors import DataError

    bad = tmp_path / "gsm8k.jsonl"
    bad.write_text(json.dumps(GSM8K[0]) + "\n" + json.dumps({"question": "q"}) + "\n")
    with pytest.raises(DataError) as e:
        read_benchmark(BenchmarkSpec(path=str(bad), format="gsm8k"))
    assert e.value.details[0].loc == (str(bad), 2, "answer")


def test_language_scores_over_present_features_match_langid() -> None:
    """Summing the class scores over the text's features only gives langid's own answer."""
    from thresher.curate.blocks.language import _classify, identifier

    ident = identifier()
    texts = [
        "The quick brown fox jumps over the lazy dog and asks for the way to the station.",
        "Le renard brun rapide saute par-dessus le chien paresseux et demande le chemin de la gare.",
        "Der schnelle braune Fuchs springt über den faulen Hund und fragt nach dem Weg zum Bahnhof.",
        "Быстрая коричневая лиса перепрыгивает через ленивую собаку.",
        "敏捷的棕色狐狸跳过了懒狗，然后问去车站的路。",
        "user: How do I reset my password?\nassistant: Open settings, then Security. " * 30,
        "ok",
    ]
    seen = set()
    for text in texts:
        lang, prob = ident.classify(text)
        ours = _classify(ident, text)
        assert ours[0] == lang and abs(ours[1] - prob) < 1e-9, text
        seen.add(lang)
    assert {"en", "fr", "de", "ru", "zh"} <= seen
