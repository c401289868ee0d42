"""The request compiler: the select tree level by level, ordering, and scope checks.

`Compiler` joins the base (parameters, columns) with the embed and filter compilers; `read`,
`write` and `rpc` build their statements around its `node`.
"""

from __future__ import annotations

from localbase.rest.catalog import Table, quote_ident
from localbase.rest.errors import RestError
from localbase.rest.query.tree import Column as SelectColumn
from localbase.rest.query.tree import Embed, EmbedPath, OrderTerm, SelectItem, Star
from localbase.rest.sql.base import Node
from localbase.rest.sql.embeds import EmbedCompiler
from localbase.rest.sql.filters import FilterCompiler


class Compiler(EmbedCompiler, FilterCompiler):
    """Compiles one request; holds the parameter list while it grows."""

    def node(
        self, table: Table, alias: str, items: tuple[SelectItem, ...], path: EmbedPath, filtered: bool = True
    ) -> Node:
        """One level of the select tree; `filtered=False` for rows a write already chose."""
        self._used_paths.add(path)
        node = Node([], [], [], "")
        embeds: dict[str, tuple[str, bool]] = {}
        grouped: list[str] = []  # the plain columns: what an aggregating level groups by
        aggregated = False
        self._refuse_duplicate_embeds(table, items, len(path) + 1)
        for item in items:
            if isinstance(item, Star) and self.explicit_star:
                node.select.extend(f"{alias}.{quote_ident(name)}" for name in table.columns)
            elif isinstance(item, Star):
                node.select.append(f"{alias}.*")
            elif isinstance(item, SelectColumn) and self._aggregated(table, item, path):
                node.select.append(self._aggregate(table, alias, item))
                aggregated = True
            elif isinstance(item, SelectColumn):
                sql, _ = self.column(table, alias, item.field)
                grouped.append(sql)
                if item.cast:
                    sql = f"({sql})::{self.cast(item.cast)}"
                node.select.append(f"{sql} as {quote_ident(item.alias or item.field.output_name)}")
            elif item.spread:
                node.select.append(f"{self.spread(table, alias, item, path, node)}.*")
            else:
                body, to_one = self.embed(table, alias, item, path, node)
                embeds[item.key] = (body, to_one)
                if item.items:  # an empty embed `rel()` is there to filter on, not to show
                    node.select.append(f"{body} as {quote_ident(item.key)}")
        for condition in self.query.conditions.get(path, []) if filtered else []:
            node.where.append(self.condition(condition, table, alias, embeds))
        node.order = self.order(table, alias, self.query.order.get(path, ()), items)
        if aggregated and grouped:
            node.group = " group by " + ", ".join(grouped)
        return node

    def _aggregated(self, table: Table, item: SelectColumn, path: EmbedPath) -> bool:
        """An aggregate (`count()`, `col.sum()`, a bare `count` in an embed); refused unless enabled."""
        bare_count = bool(path) and item.field.name == "count" and not item.field.path and "count" not in table.columns
        if not (item.aggregate or bare_count):
            return False
        if not self.aggregates:
            raise RestError(400, "PGRST123", "Use of aggregate functions is not allowed")
        return True

    def _aggregate(self, table: Table, alias: str, item: SelectColumn) -> str:
        function = item.aggregate or "count"
        if item.counts_rows or not item.aggregate:
            sql = "count(*)"
        else:
            argument, _ = self.column(table, alias, item.field)
            if item.input_cast:
                argument = f"({argument})::{self.cast(item.input_cast)}"
            sql = f"{function}({argument})"
        if item.cast:
            sql = f"({sql})::{self.cast(item.cast)}"
        return f"{sql} as {quote_ident(item.alias or function)}"

    @staticmethod
    def _refuse_duplicate_embeds(table: Table, items: tuple[SelectItem, ...], depth: int) -> None:
        """Two embeds under one name at one level: PostgREST names both joins `<table>_<name>_<depth>`,
        which PostgreSQL refuses (42712); answered the same here."""
        seen: set[str] = set()
        for item in items:
            if isinstance(item, Embed):
                name = f"{table.name}_{item.alias or item.name}_{depth}"
                if name in seen:
                    raise RestError(400, "42712", f'table name "{name}" specified more than once')
                seen.add(name)

    def order(self, table: Table, alias: str, terms: tuple[OrderTerm, ...], items: tuple[SelectItem, ...] = ()) -> str:
        if not terms:
            return ""
        parts = []
        for term in terms:
            if term.relation is None:
                sql, _ = self.column(table, alias, term.field)
            else:
                sql = self.related_column(table, alias, term, items)
            part = f"{sql} {'desc' if term.desc else 'asc'}"
            if term.nulls:
                part += f" nulls {term.nulls}"
            parts.append(part)
        return " order by " + ", ".join(parts)

    def related_column(self, table: Table, alias: str, term: OrderTerm, items: tuple[SelectItem, ...]) -> str:
        """`order=rel(col)`: the column of the to-one related row (an embed's alias or a table name)."""
        assert term.relation is not None
        named = [i for i in items if isinstance(i, Embed) and term.relation in (i.alias, i.name)]
        embed = named[0] if named else Embed(term.relation, None, None, False, ())
        relation = self.relationship(table, embed)
        if not relation.to_one:
            raise RestError(
                400,
                "PGRST118",
                f"A related order on '{term.relation}' is not possible",
                f"'{table.name}' and '{term.relation}' do not form a many-to-one or one-to-one relationship",
            )
        child = self.alias()
        sql, _ = self.column(relation.target, child, term.field)
        join = " and ".join(f"{child}.{quote_ident(c)} = {alias}.{quote_ident(p)}" for p, c in relation.pairs)
        return f"(select {sql} from {relation.target.qualified} as {child} where {join} limit 1)"

    def check_scopes(self) -> None:
        """Filters, order or paging on an embed that is not in `select` is PGRST108."""
        for scoped in (self.query.conditions, self.query.order, self.query.limit, self.query.offset):
            for path in scoped:
                if path not in self._used_paths:
                    raise RestError(
                        400,
                        "PGRST108",
                        f"'{'.'.join(path)}' is not an embedded resource in this request",
                        None,
                        f"Verify that '{'.'.join(path)}' is included in the 'select' query parameter.",
                    )
