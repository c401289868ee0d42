"""Query-string details where PostgREST 12/13 (`ApiRequest/QueryParams.hs`, `Plan.hs`) answers
something a client can see, through supabase-js and supabase-py as they send them.

- A selected JSON path that ends in an array index is named by the last key before it, or by
  the column when there is none (`data->tags->0` is `tags`, `tags->0` is `tags`), never by the
  index (`"0"`, twice in one object when two such paths were selected).
"""

from __future__ import annotations

from supabase import Client

from tests.conftest import LocalStack
from tests.localbase.rest.supabase_js import SupabaseJs


def test_a_json_path_ending_in_an_index_is_named_by_its_last_key(
    things: LocalStack, service_client: Client, js: SupabaseJs
) -> None:
    rows = service_client.table("rest_things").select("id,tags->0,data->size->w,data->size->0").eq("id", 1).execute()
    assert rows.data == [{"id": 1, "tags": "red", "w": 3, "size": None}]
    aliased = service_client.table("rest_things").select("first:tags->>-1").eq("id", 2).execute()
    assert aliased.data == [{"first": "fruit"}]
    result = js.run(
        """
        const { data, error } = await service.from('rest_things')
          .select('id, tags->1, data->0, groups:rest_groups(name->0,id)').eq('id', 3);
        return { data, error };
        """
    )
    row = {"id": 3, "tags": "vegetable", "data": None, "groups": {"name": "beta", "id": 2}}
    assert result == {"data": [row], "error": None}
