"""What each stage of a run asked of a model, what the cache spared it, and what it cost."""

from __future__ import annotations

import threading

from pydantic import Field

from toolscale.llm.types import StageUsage
from toolscale.strict import StrictModel


class Price(StrictModel):
    """List prices in dollars per million tokens; the caller resolves them (from the model catalog)."""

    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_million + output_tokens * self.output_per_million) / 1_000_000


class UsageLedger:
    """Per-stage counters, safe to update from the client's event-loop thread while a caller reads them."""

    def __init__(self, price: Price | None) -> None:
        self._price = price
        self._stages: dict[str, StageUsage] = {}
        self._lock = threading.Lock()

    def _add(self, stage: str, **amounts: float) -> None:
        with self._lock:
            usage = self._stages.get(stage, StageUsage())
            self._stages[stage] = usage.model_copy(
                update={field: getattr(usage, field) + amount for field, amount in amounts.items()}
            )

    def sent(self, stage: str, input_tokens: int, output_tokens: int) -> None:
        """One answer asked of the model (a first try or a repair), with the tokens it took."""
        cost = self._price.cost(input_tokens, output_tokens) if self._price is not None else 0.0
        self._add(stage, requests=1, input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost)

    def hit(self, stage: str) -> None:
        self._add(stage, cache_hits=1)

    def failed(self, stage: str) -> None:
        self._add(stage, failures=1)

    def snapshot(self) -> dict[str, StageUsage]:
        with self._lock:
            return dict(sorted(self._stages.items()))  # frozen models: safe to hand out
