"""The models the product offers (`public.models`), as the worker sizes prompts and picks features.

Loaded once at start and refreshed in the background every `refresh_seconds`, so a turn never waits
for it; a failed load keeps the last good list (and at start an empty one, where every model falls
back to `LLM_MODEL_LIMITS` and no optional feature is sent).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from core.settings import ModelLimits
from worker.database import WorkerDatabase

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    limits: ModelLimits
    thinking: bool = False
    vision: bool = False
    search: bool = False
    multimodal: bool = False  # answers only through the multimodal endpoint
    max_reasoning: int | None = None  # the longest chain of thought: the most thinking_budget it takes


class Catalog:
    def __init__(self, db: WorkerDatabase | None = None, refresh_seconds: float = 60.0) -> None:
        self._db = db
        self._refresh_seconds = refresh_seconds
        self.models: dict[str, ModelInfo] = {}

    def get(self, model: str) -> ModelInfo | None:
        return self.models.get(model)

    async def load(self) -> None:
        if self._db is None:
            return
        try:
            rows = await self._db.models()
        except Exception:
            log.exception("could not load the models list; keeping the last one")
            return
        self.models = {
            row["id"]: ModelInfo(
                id=row["id"],
                limits=ModelLimits(row["context_window"], row["max_input"], row["max_output"]),
                thinking=row["supports_thinking"],
                vision=row["supports_vision"],
                search=row["supports_search"],
                multimodal=row["multimodal_endpoint"],
                max_reasoning=row["max_reasoning"],
            )
            for row in rows
        }

    async def run(self) -> None:
        """Refresh until cancelled."""
        while True:
            await asyncio.sleep(self._refresh_seconds)
            await self.load()
