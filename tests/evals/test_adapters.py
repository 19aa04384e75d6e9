"""Adapters against a real HTTP server on 127.0.0.1 speaking the chat-completions protocol."""

from __future__ import annotations

import asyncio
import importlib.util
import time

import pytest
from evals_support import QUESTIONS, server, sync_agent

from thresher.errors import ConfigError
from thresher.evals import AdapterError, CallableAdapter, Generation, ModelAdapter, parse_model
from thresher.evals.adapters.openai import OpenAIAdapter
from thresher.evals.fake_server import FakeModelServer

USES_FIXTURES = (server,)  # pytest finds fixtures among the module's names

Q, A = next(iter(QUESTIONS.items()))


def ask(adapter: ModelAdapter, text: str = Q, **params: object) -> Generation:
    async def go() -> Generation:
        try:
            return await adapter.generate([{"role": "user", "content": text}], dict(params))
        finally:
            await adapter.aclose()

    return asyncio.run(go())


def test_openai_adapter_answers_with_tokens_and_latency(server: FakeModelServer) -> None:
    adapter = parse_model(f"openai:{server.url}#good")
    assert isinstance(adapter, OpenAIAdapter) and adapter.model == "good"
    gen = ask(adapter, temperature=0)
    assert gen.text == f"The answer is {A}."
    assert gen.tokens_in == len(Q.split()) and gen.tokens_out == 4
    assert gen.latency_ms is not None and gen.latency_ms > 0
    assert ask(parse_model(f"openai:{server.url}#x"), "hello").text == "echo: hello"


def test_retries_until_the_server_recovers() -> None:
    with FakeModelServer(fail_first=2) as srv:
        adapter = OpenAIAdapter(srv.url, "m", backoff_s=0.01)
        assert ask(adapter, "hi").text == "echo: hi"
        assert adapter.calls == 3 and srv.requests == 3 and srv.errors == 2


def test_gives_up_after_its_retries() -> None:
    with FakeModelServer(error_rate=1.0) as srv:
        adapter = OpenAIAdapter(srv.url, "m", max_retries=2, backoff_s=0.01)
        with pytest.raises(AdapterError, match="HTTP 500"):
            ask(adapter, "hi")
        assert srv.requests == 3


def test_times_out() -> None:
    with FakeModelServer(latency_ms=2000) as srv:
        adapter = OpenAIAdapter(srv.url, "m", timeout_s=0.2, max_retries=0)
        t0 = time.perf_counter()
        with pytest.raises(AdapterError, match="Timeout"):
            ask(adapter, "hi")
        assert time.perf_counter() - t0 < 3


def test_concurrency_is_limited() -> None:
    with FakeModelServer(latency_ms=100) as srv:
        adapter = OpenAIAdapter(srv.url, "m", concurrency=4)

        async def go() -> float:
            t0 = time.perf_counter()
            await asyncio.gather(*(adapter.generate([{"role": "user", "content": str(i)}], {}) for i in range(8)))
            await adapter.aclose()
            return time.perf_counter() - t0

        elapsed = asyncio.run(go())
        assert elapsed >= 0.2  # 8 calls of 100 ms, 4 at a time: at least two waves
        assert srv.max_in_flight == 4


def test_bad_specs_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="ADAPTER:SPEC"):
        parse_model("nonsense")
    with pytest.raises(ConfigError, match="no model adapter"):
        parse_model("nope:x")
    with pytest.raises(ConfigError, match="no model name"):
        parse_model("openai:http://127.0.0.1:1/v1")


async def _async_agent(messages: list[dict[str, object]], params: dict[str, object]) -> Generation:
    return Generation("async", tokens_out=1)


def test_callable_adapter_runs_sync_and_async_functions() -> None:
    assert ask(CallableAdapter(sync_agent), "x").text == "sync:x"
    gen = ask(CallableAdapter(_async_agent), "x")
    assert gen.text == "async" and gen.latency_ms is not None
    spec = parse_model("callable:evals_support:sync_agent")
    assert spec.model == "evals_support:sync_agent" and ask(spec, "y").text == "sync:y"

    def broken(messages: object, params: object) -> str:
        raise RuntimeError("tool down")

    with pytest.raises(AdapterError, match="tool down"):
        ask(CallableAdapter(broken))


@pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="transformers not installed")
def test_hf_adapter_with_a_tiny_random_model(tmp_path: object) -> None:  # pragma: no cover - needs the extra
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    from thresher.evals.adapters.hf import HFAdapter

    vocab = {w: i for i, w in enumerate(["<eos>", "user", ":", "assistant", "hi", "there", *"abcdefgh"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<eos>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")  # type: ignore[no-untyped-call]
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(vocab), n_embd=16, n_layer=1, n_head=2, n_positions=64))
    gen = ask(HFAdapter(model, fast, name="tiny"), "hi there", max_tokens=3)
    assert gen.tokens_out is not None and gen.tokens_out <= 3


def test_fake_server_runs_as_a_program(tmp_path: object) -> None:
    import json
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "thresher.evals.fake_server", "--port", str(port), "--latency-ms", "5"]
    proc = subprocess.Popen([*cmd, "--error-rate", "0.0", "--model", "base=0.5"], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and "serving on" in proc.stdout.readline().decode()
        for _ in range(50):
            try:
                models = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2).read())
                break
            except OSError:
                time.sleep(0.1)
        assert models["data"][0]["id"] == "base"
        assert ask(OpenAIAdapter(f"http://127.0.0.1:{port}/v1", "base"), "ping").text == "echo: ping"
    finally:
        proc.terminate()
        proc.wait(10)
