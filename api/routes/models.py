"""The models the product offers: `GET /api/models`, read through REST as the caller (RLS: signed-in
users see the active rows of `public.models`), in the order the picker shows them."""

from __future__ import annotations

import msgspec
from litestar import Controller, get

from api.docs import errors
from api.schemas import ModelOut, ModelsResponse
from api.security import CurrentUser
from api.upstream import Upstream, call, rows

MODEL_COLUMNS = ",".join(ModelOut.__struct_fields__)


class ModelController(Controller):
    path = "/api/models"
    tags = ["models"]  # noqa: RUF012

    @get("/", responses=errors())
    async def list_models(self, user: CurrentUser, upstream: Upstream) -> ModelsResponse:
        query = upstream.rest(user.token).from_("models").select(MODEL_COLUMNS).eq("is_active", True)
        response = await call(query.order("sort_order").order("id").execute())
        return ModelsResponse(success=True, models=msgspec.convert(rows(response.data), list[ModelOut]))
