"""A local Hugging Face ``transformers`` causal LM (``pip install 'thresher[evals-hf]'`` plus torch).

``hf:/path/to/model`` (a folder saved with ``save_pretrained``; nothing is downloaded). Calls
run one at a time in a worker thread. The chat template is used when the tokenizer has one,
else the messages are joined as ``role: content`` lines.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from thresher.errors import MissingExtra
from thresher.evals.adapters.base import Generation, Messages, ModelAdapter, register_adapter


@register_adapter("hf")
class HFAdapter(ModelAdapter):
    concurrency = 1

    def __init__(self, model: Any, tokenizer: Any, *, name: str) -> None:
        self._model = model
        self._tok = tokenizer
        self.model = name
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: str) -> HFAdapter:
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise MissingExtra("transformers", "evals-hf") from None
        tok = AutoTokenizer.from_pretrained(spec, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(spec, local_files_only=True)
        return cls(model, tok, name=spec)

    def _prompt(self, messages: Messages) -> str:
        if getattr(self._tok, "chat_template", None):
            return str(self._tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        lines = [f"{m['role']}: {m.get('content') or ''}" for m in messages]
        return "\n".join([*lines, "assistant:"])

    def _generate(self, messages: Messages, params: dict[str, Any]) -> Generation:
        t0 = time.perf_counter()
        enc = self._tok(self._prompt(messages), return_tensors="pt")
        n_in = int(enc["input_ids"].shape[1])
        temperature = float(params.get("temperature", 0.0) or 0.0)
        kwargs: dict[str, Any] = {"max_new_tokens": int(params.get("max_tokens", 64))}
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            kwargs.update(do_sample=False)
        with self._lock:
            out = self._model.generate(**enc, pad_token_id=self._tok.eos_token_id, **kwargs)
        new = out[0][n_in:]
        text = self._tok.decode(new, skip_special_tokens=True)
        return Generation(text, n_in, int(new.shape[0]), (time.perf_counter() - t0) * 1000)

    async def generate(self, messages: Messages, params: dict[str, Any]) -> Generation:
        return await asyncio.to_thread(self._generate, messages, params)
