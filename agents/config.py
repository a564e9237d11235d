"""Agent limits and model settings, built once by start-up code from the server settings
(agents never import the server)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """What the agent runtime and the brains may use."""

    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""  # empty: the offline brain answers
    max_notes: int = 2_000  # notes one task may write
    tasks_per_minute: int = 10  # tasks one user may start per minute
    max_tokens: int = 20_000  # model tokens one task may use
    max_seconds: float = 120.0  # wall time of one task
    review_seconds: float = 600.0  # an agent waits this long for its suggestions' review
    memory_messages: int = 40  # conversation memory read back per task
    memory_chars: int = 8_000
    memory_keep: int = 500  # messages kept per score after a trim

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_api_key)
