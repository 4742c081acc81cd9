"""A teacher LLM behind any OpenAI-compatible chat-completions API (Ollama, vLLM, a hosted API), cached on disk."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from workbench.sdk import ProgressReporter, WorkbenchError, first_line, setting

DEFAULT_KEY_VARIABLE = "WORKBENCH_TEACHER_API_KEY"
ALLOWED_KEY_VARIABLES = "WORKBENCH_TEACHER_KEY_VARIABLES"
KEY_HOSTS = "WORKBENCH_TEACHER_HOSTS"
LOOPBACK = ("localhost", "127.0.0.1", "::1")


def allowed_key_variable(name: str) -> str:
    """`name` if it may hold a teacher's key: the fixed variable, or one the user listed in the allow-list setting.

    Any other variable (a cloud credential, say) is never read, so a shared parameter file cannot send it away.
    """
    allowed = {DEFAULT_KEY_VARIABLE} | set(setting(ALLOWED_KEY_VARIABLES) or [])
    if name not in allowed:
        raise WorkbenchError(f"teacher_key_env {name!r} is not an allowed key variable; put the key in "
                             f"{DEFAULT_KEY_VARIABLE}, or list {name} in {ALLOWED_KEY_VARIABLES}")
    return name


def check_url(url: str) -> str:
    """Only http and https teachers: no file:// or other schemes."""
    parts = urlparse(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WorkbenchError(f"teacher_url {url!r} is not an http(s) URL; pass e.g. http://127.0.0.1:11434/v1")
    return url


def key_for(url: str, variable: str) -> str:
    """The key to send to the teacher at `url`: the allowed variable's value, if that host is one the key is bound to
    (WORKBENCH_TEACHER_HOSTS, host or host:port; only this machine when unset). A key set for another host is
    refused before any request leaves; with no key set, none is sent ("none")."""
    key = os.environ.get(allowed_key_variable(variable))
    if not key:
        return "none"
    parts = urlparse(url)
    host = (parts.hostname or "").lower()
    bound = [item.lower() for item in setting(KEY_HOSTS) or []]
    if host in (bound or LOOPBACK) or f"{host}:{parts.port}" in bound:
        return key
    allowed = ", ".join(bound) if bound else "this machine only (WORKBENCH_TEACHER_HOSTS is unset)"
    raise WorkbenchError(f"the teacher key in {variable} is not sent to {host}: it is bound to {allowed}; add the "
                         f"host to {KEY_HOSTS} if it is yours, or unset the key")


@dataclass
class TeacherSettings:
    base_url: str
    model: str
    api_key_env: str = "WORKBENCH_TEACHER_API_KEY"
    max_tokens: int = 256
    requests_per_second: float = 5.0
    concurrency: int = 4
    retries: int = 3
    timeout: float = 120.0


    def fingerprint(self) -> str:
        """What the answers depend on besides the prompt: the server, the model and the answer length."""
        text = f"{self.base_url.rstrip('/')}|{self.model}|{self.max_tokens}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class TeacherUnavailable(Exception):
    """The server could not be reached (after the retries)."""


class Teacher:
    """Labels texts with a system prompt; each answer is cached as soon as it arrives, so a rerun pays only once."""

    def __init__(self, settings: TeacherSettings, cache: Any) -> None:
        self.settings, self.cache = settings, cache
        self._next_start = 0.0
        self._lock = threading.Lock()
        self._openai: Any = None
        self.requested = 0
        self.cached = 0

    def label(self, system: str, texts: list[str], progress: ProgressReporter) -> list[str]:
        keys = [f"{system}\n\n{text}" for text in texts]
        found = {position: value.decode() for position, value in self.cache.get(keys).items()}
        self.cached = len(found)
        missing = [position for position in range(len(texts)) if position not in found]
        with progress.bar("Teacher labels", total=len(texts)) as bar:
            bar.advance(len(found))

            def ask(position: int) -> None:
                answer = self._request(system, texts[position])
                self.cache.put([(keys[position], answer.encode())])
                found[position] = answer
                bar.advance()

            try:
                with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
                    for _ in pool.map(ask, missing):
                        pass
            except TeacherUnavailable as error:
                raise WorkbenchError(
                    f"teacher at {self.settings.base_url} is unreachable ({error}); {len(found)} of {len(texts)} "
                    "labels are cached and kept; start the server or fix teacher_url, then run again") from None
        self.requested = len(missing)
        return [found[position] for position in range(len(texts))]

    def _request(self, system: str, text: str) -> str:
        """One chat completion; the OpenAI client retries 408/409/429/5xx and dropped connections with backoff."""
        import openai

        self._wait_for_turn()
        try:
            completion = self._client().chat.completions.create(
                model=self.settings.model, temperature=0, max_tokens=self.settings.max_tokens,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": text}])
        except openai.APIConnectionError as error:  # refused, reset or timed out, after the retries
            raise TeacherUnavailable(error.__cause__ or error) from None
        except openai.APIStatusError as error:
            raise WorkbenchError(f"teacher at {self.settings.base_url} answered HTTP {error.status_code}: "
                                 f"{first_line(error.message)}") from None
        return completion.choices[0].message.content or ""

    def _client(self) -> Any:
        """One client per teacher (it pools connections); the key only from an allowed variable."""
        with self._lock:
            if self._openai is None:
                import openai

                key = key_for(self.settings.base_url, self.settings.api_key_env)
                self._openai = openai.OpenAI(base_url=self.settings.base_url, api_key=key,
                                             max_retries=self.settings.retries, timeout=self.settings.timeout)
            return self._openai

    def _wait_for_turn(self) -> None:
        """Space request starts to at most `requests_per_second` across the worker threads."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + 1.0 / self.settings.requests_per_second
        time.sleep(max(0.0, start - now))
