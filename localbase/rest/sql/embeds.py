"""Embedded resources as SQL: to-one rows and to-many arrays in lateral joins, and spreads.

Each embed is a correlated SELECT over the related relation (filtered, ordered and paged by the
request's scoped parameters); `!inner` turns "has no related row" into "parent row dropped".
"""

from __future__ import annotations

from localbase.rest.catalog import Table, quote_ident
from localbase.rest.query.tree import Column as SelectColumn
from localbase.rest.query.tree import Embed, EmbedPath, SelectItem, Star
from localbase.rest.sql.base import CompilerBase, Node
from localbase.rest.sql.relationships import Relationship, find_relationship


class EmbedCompiler(CompilerBase):
    def relationship(self, parent: Table, embed: Embed) -> Relationship:
        return find_relationship(self.catalog, parent, embed)

    def _child(self, parent: Table, parent_alias: str, embed: Embed, path: EmbedPath) -> tuple[Relationship, str]:
        """The embedded relation's rows for one parent row, as a SELECT (filtered, ordered, paged)."""
        relation = self.relationship(parent, embed)
        child_alias = self.alias()
        child_path = (*path, embed.key)
        child = self.node(relation.target, child_alias, embed.items, child_path)
        source = f"{relation.target.qualified} as {child_alias}"
        if relation.function is not None:
            source = f"{relation.function.qualified}({parent_alias}) as {child_alias}"
            join = ["true"]
        elif relation.junction is None:
            join = [f"{child_alias}.{quote_ident(c)} = {parent_alias}.{quote_ident(p)}" for p, c in relation.pairs]
        else:
            junction = self.alias()
            through = " and ".join(
                f"{junction}.{quote_ident(j)} = {child_alias}.{quote_ident(t)}" for j, t in relation.through
            )
            source += f" join {relation.junction.qualified} as {junction} on {through}"
            join = [f"{junction}.{quote_ident(j)} = {parent_alias}.{quote_ident(p)}" for p, j in relation.pairs]
        paging = ""
        if child_path in self.query.limit:
            paging += f" limit {self.value(self.query.limit[child_path])}::text::bigint"
        if child_path in self.query.offset:
            paging += f" offset {self.value(self.query.offset[child_path])}::text::bigint"
        where = " and ".join(join + child.where)
        columns = ", ".join(child.select) or "1"
        inner = f"select {columns} from {source}{''.join(child.joins)} where {where}{child.tail}{paging}"
        return relation, inner

    def spread(self, parent: Table, parent_alias: str, embed: Embed, path: EmbedPath, into: Node) -> str:
        """`...rel(cols)`: a to-one row's columns become the parent's (nulls when there is none); a
        to-many relation's become arrays, one per column (`[]` when there are none), as in PostgREST 13."""
        relation, inner = self._child(parent, parent_alias, embed, path)
        lateral = self.alias()
        # Aggregates in a spread are hoisted to the parent (PostgREST 13): one row per parent.
        hoisted = bool(embed.items) and all(isinstance(i, SelectColumn) and i.aggregate for i in embed.items)
        if relation.to_one or hoisted:
            into.joins.append(f" left join lateral ({inner} limit 1) as {lateral} on true")
        else:
            arrays = ", ".join(
                f"coalesce(json_agg(pgrst_e.{quote_ident(name)}), '[]')::jsonb as {quote_ident(name)}"
                for name in _output_names(relation.target, embed.items)
            )
            into.joins.append(f" left join lateral (select {arrays} from ({inner}) pgrst_e) as {lateral} on true")
        if embed.inner:
            into.where.append(f"exists ({inner})")
        return lateral

    def embed(self, parent: Table, parent_alias: str, embed: Embed, path: EmbedPath, into: Node) -> tuple[str, bool]:
        """The related row as a jsonb object, or the related rows as a jsonb array (PostgREST's `::jsonb`)."""
        relation, inner = self._child(parent, parent_alias, embed, path)
        lateral = self.alias()
        if relation.to_one:
            body = f"(select row_to_json(pgrst_e)::jsonb as body from ({inner}) pgrst_e limit 1)"
            into.joins.append(f" left join lateral {body} as {lateral} on true")
            if embed.inner:
                into.where.append(f"{lateral}.body is not null")
        else:
            body = f"(select coalesce(json_agg(pgrst_e), '[]')::jsonb as body from ({inner}) pgrst_e)"
            into.joins.append(f" left join lateral {body} as {lateral} on true")
            if embed.inner:
                into.where.append(f"jsonb_array_length({lateral}.body) > 0")
        return f"{lateral}.body", relation.to_one


def _output_names(table: Table, items: tuple[SelectItem, ...]) -> list[str]:
    names: list[str] = []
    for item in items:
        if isinstance(item, Star):
            names.extend(table.columns)
        elif isinstance(item, SelectColumn):
            names.append(item.alias or item.aggregate or item.field.output_name)
        elif not item.spread:
            names.append(item.key)
    return names
