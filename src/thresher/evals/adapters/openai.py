"""Any OpenAI-compatible chat-completions server (vLLM, llama.cpp, Ollama, hosted APIs).

``openai:http://localhost:8000/v1#model-name`` (the part after ``#`` is the model name sent).

The client is aiohttp, not httpx: at 32 connections against a 50 ms server httpx 0.28's pool
spends several ms of CPU per request and tops out far below the ideal, while aiohttp stays
near it (``benchmarks/evals.py`` measures both on this machine; figures in docs/evals.md).
Calls are limited by a semaphore (``concurrency``) and one pooled connector; 429, 5xx and
connection errors are retried with exponential backoff and jitter (``Retry-After`` honoured);
each call has a timeout.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import orjson

from thresher.errors import ConfigError
from thresher.evals.adapters.base import AdapterError, Generation, Messages, ModelAdapter, register_adapter

_RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@register_adapter("openai")
class OpenAIAdapter(ModelAdapter):
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        concurrency: int = 32,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 0.25,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"openai adapter: base URL {base_url!r} must start with http:// or https://")
        if not model:
            raise ConfigError("openai adapter: no model name (give it after '#': openai:http://host/v1#model)")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.calls = 0  # HTTP requests sent, retries included
        self._session: Any = None
        self._sem: asyncio.Semaphore | None = None

    @classmethod
    def from_spec(cls, spec: str) -> OpenAIAdapter:
        url, _, model = spec.partition("#")
        return cls(url, model)

    @property
    def identity(self) -> str:
        return f"openai:{self.base_url}#{self.model}"

    def _open(self) -> Any:
        import aiohttp

        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        connector = aiohttp.TCPConnector(limit=self.concurrency, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            json_serialize=lambda v: orjson.dumps(v).decode(),
        )
        self._sem = asyncio.Semaphore(self.concurrency)
        return self._session

    async def generate(self, messages: Messages, params: dict[str, Any]) -> Generation:
        import aiohttp

        session = self._session or self._open()
        assert self._sem is not None
        body = orjson.dumps({**params, "model": self.model, "messages": messages})
        url = f"{self.base_url}/chat/completions"
        last, wait = "no attempt", 0.0
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(wait or self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
            t0 = time.perf_counter()
            try:
                async with self._sem:
                    self.calls += 1
                    async with session.post(url, data=body) as resp:
                        raw = await resp.read()
                        status = resp.status
                        retry_after = resp.headers.get("Retry-After", "")
            except (aiohttp.ClientError, TimeoutError) as e:
                last, wait = f"{type(e).__name__}: {e}", 0.0
                continue
            if status == 200:
                return _parse(raw, (time.perf_counter() - t0) * 1000)
            last = f"HTTP {status}: {raw[:200].decode(errors='replace')}"
            if status not in _RETRY_STATUSES:
                break
            wait = min(float(retry_after), 60.0) if retry_after.isdigit() else 0.0
        raise AdapterError(f"{self.model} at {self.base_url}: {last}")

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _parse(raw: bytes, latency_ms: float) -> Generation:
    try:
        data = orjson.loads(raw)
        message = data["choices"][0]["message"]
        text = message.get("content") or ""
        usage = data.get("usage") or {}
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise AdapterError(f"not a chat completion ({type(e).__name__}): {raw[:200]!r}") from None
    return Generation(
        text=text if isinstance(text, str) else str(text),
        tokens_in=usage.get("prompt_tokens"),
        tokens_out=usage.get("completion_tokens"),
        latency_ms=latency_ms,
    )
