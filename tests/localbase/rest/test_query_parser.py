"""The PostgREST grammar parser on its own: shapes, values, select trees, filters, logic, order."""

from __future__ import annotations

import pytest

from localbase.rest.errors import RestError
from localbase.rest.query.filters import parse_list
from localbase.rest.query.select import parse_order, parse_select
from localbase.rest.query.shape import parse, scan
from localbase.rest.query.tree import (
    Column,
    Embed,
    Field,
    Filter,
    Logic,
    OrderTerm,
    Slot,
    Star,
)


def test_requests_differing_only_in_values_share_a_shape() -> None:
    shape_a, values_a = scan([("select", "id"), ("id", "eq.1"), ("name", "like.*a*"), ("limit", "5")])
    shape_b, values_b = scan([("select", "id"), ("id", "eq.2"), ("name", "like.b%"), ("limit", "9")])
    assert shape_a == shape_b
    assert values_a == ["1", "*a*", "5"]
    assert values_b == ["2", "b%", "9"]


def test_is_values_are_part_of_the_shape() -> None:
    assert scan([("x", "is.null")])[0] != scan([("x", "is.true")])[0]


def test_select_with_alias_cast_json_path_and_embeds() -> None:
    items = parse_select('id,label:name::text,w:data->size->>w,"odd col",grp:rest_groups!group_fk!inner(name,*)')
    assert items[0] == Column(Field("id"))
    assert items[1] == Column(Field("name"), "label", "text")
    assert items[2] == Column(Field("data", (("->", "size"), ("->>", "w"))), "w")
    assert items[3] == Column(Field("odd col"))
    assert items[4] == Embed("rest_groups", "grp", "group_fk", True, (Column(Field("name")), Star()))


def test_nested_embeds() -> None:
    (embed,) = parse_select("a(b(c(id)))")
    assert isinstance(embed, Embed)
    assert isinstance(embed.items[0], Embed)
    assert embed.items[0].items[0] == Embed("c", None, None, False, (Column(Field("id")),))


@pytest.mark.parametrize("bad", ["a(b", "a,(", 'x"', "a!(b)"])
def test_malformed_select_is_pgrst100(bad: str) -> None:
    with pytest.raises(RestError) as caught:
        parse_select(bad)
    assert caught.value.code == "PGRST100"


def test_aggregates_parse_with_aliases_and_casts() -> None:
    """Whether they are allowed (db-aggregates-enabled) is the compiler's question, not the grammar's."""
    assert parse_select("count(),total:score::int.sum()::text,score.avg()") == (
        Column(Field("*"), None, None, "count"),
        Column(Field("score"), "total", "text", "sum", "int"),
        Column(Field("score"), None, None, "avg"),
    )
    with pytest.raises(RestError) as caught:
        parse_select("score.median()")
    assert caught.value.code == "PGRST100"


def test_filters_with_negation_quantifier_and_config() -> None:
    shape, values = scan([("a", "not.eq.1"), ("b", "like(any).{x*,y}"), ("c", "fts(english).cat & dog")])
    query = parse(shape)
    assert query.conditions[()] == [
        Filter(Field("a"), "eq", Slot(0), negate=True),
        Filter(Field("b"), "like", Slot(1), quantifier="any"),
        Filter(Field("c"), "fts", Slot(2), config="english"),
    ]
    assert values == ["1", "{x*,y}", "cat & dog"]


def test_embed_scoped_filters_order_and_paging() -> None:
    shape, _ = scan(
        [
            ("cities.name", "eq.x"),
            ("cities.order", "name.desc"),
            ("cities.limit", "2"),
            ("cities.or", "(id.eq.1,id.eq.2)"),
        ]
    )
    query = parse(shape)
    assert ("cities",) in query.conditions
    assert query.order[("cities",)] == (OrderTerm(Field("name"), desc=True),)
    assert query.limit[("cities",)] == Slot(1)


def test_nested_logic_tree_with_quoted_values_and_lists() -> None:
    shape, _ = scan([("or", '(id.in.(1,4),and(b.gt.2,c.lt.3),not.or(d.is.null,e.eq."a,b.c"),tags.cs.{x,y})')])
    (tree,) = parse(shape).conditions[()]
    assert isinstance(tree, Logic)
    assert tree.op == "or"
    assert tree.items[0] == Filter(Field("id"), "in", "(1,4)")
    assert tree.items[1] == Logic("and", (Filter(Field("b"), "gt", "2"), Filter(Field("c"), "lt", "3")))
    assert tree.items[2] == Logic("or", (Filter(Field("d"), "is", "null"), Filter(Field("e"), "eq", "a,b.c")), True)
    assert tree.items[3] == Filter(Field("tags"), "cs", "{x,y}")


def test_not_or_key_negates_the_tree() -> None:
    (tree,) = parse(scan([("not.and", "(a.eq.1,b.eq.2)")])[0]).conditions[()]
    assert isinstance(tree, Logic)
    assert tree.negate
    assert tree.op == "and"


def test_order_modifiers() -> None:
    assert parse_order("a.desc.nullslast,b,c->x.asc.nullsfirst") == (
        OrderTerm(Field("a"), True, "last"),
        OrderTerm(Field("b")),
        OrderTerm(Field("c", (("->", "x"),)), False, "first"),
    )
    with pytest.raises(RestError):
        parse_order("a.sideways")


def test_in_list_quoting() -> None:
    assert parse_list('(1,"a,b","say \\"hi\\"",x)') == ["1", "a,b", 'say "hi"', "x"]
    # PostgREST's pListVal: empty items are empty strings, a quote not closing the item is text.
    assert parse_list("(,x,)") == ["", "x", ""]
    assert parse_list('(5" screen,a"b)') == ['5" screen', 'a"b']
    assert parse_list('("a"b,"c")') == ['"a"b', "c"]
    assert parse_list("()") == parse_list('("")') == []


@pytest.mark.parametrize("value", ["nope.1", "eq", "is.maybe", "eq(any).1".replace("eq", "in")])
def test_malformed_filters_are_pgrst100(value: str) -> None:
    with pytest.raises(RestError) as caught:
        parse(scan([("col", value)])[0])
    assert caught.value.code == "PGRST100"


def test_rpc_reads_take_plain_values_as_arguments_and_operators_as_filters() -> None:
    """PostgREST: `?name=x` passes the argument `name`; `?id=eq.3` filters the function's result."""
    shape, values = scan([("name", "x.y"), ("flag", "is.true"), ("id", "eq.3")])
    query = parse(shape, rpc=True)
    assert {k: values[s.index] for k, s in query.args.items()} == {"name": "x.y"}
    assert query.conditions[()] == [Filter(Field("flag"), "is", "true"), Filter(Field("id"), "eq", Slot(1))]


def test_columns_and_on_conflict_accept_quoted_names() -> None:
    query = parse(scan([("columns", '"a","b c"'), ("on_conflict", "id,slug")])[0])
    assert query.columns == ("a", "b c")
    assert query.on_conflict == ("id", "slug")


def test_spread_embeds() -> None:
    assert parse_select("id,...groups!inner(group_name:name)") == (
        Column(Field("id")),
        Embed("groups", None, None, True, (Column(Field("name"), "group_name"),), spread=True),
    )
    for bad in ("...", "...groups", "...(name)"):
        with pytest.raises(RestError) as failure:
            parse_select(bad)
        assert failure.value.code == "PGRST100"


def test_order_by_related_column() -> None:
    assert parse_order("country(name).desc.nullslast,id") == (
        OrderTerm(Field("name"), True, "last", "country"),
        OrderTerm(Field("id")),
    )
    assert parse_order("c(data->>x)") == (OrderTerm(Field("data", (("->>", "x"),)), relation="c"),)
    with pytest.raises(RestError):
        parse_order("country(name.desc")
