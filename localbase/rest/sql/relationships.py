"""Which foreign key joins two relations: to-one, to-many, or many-to-many through a junction table.

PostgREST's rules: a hint (`rel!hint`) names a constraint or a column of either end; more than one
match is PGRST201, none is PGRST200.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from localbase.rest.catalog import Catalog, Table
from localbase.rest.errors import RestError
from localbase.rest.query.tree import Embed


@dataclass
class Relationship:
    target: Table
    pairs: tuple[tuple[str, str], ...]  # (parent column, child or junction column)
    to_one: bool
    junction: Table | None = None  # many-to-many: `pairs` lead to it, `through` from it to the target
    through: tuple[tuple[str, str], ...] = ()  # (junction column, target column)


def find_relationship(catalog: Catalog, parent: Table, embed: Embed) -> Relationship:
    target = catalog.table(parent.schema, embed.name)
    found: list[tuple[str, Relationship]] = []
    if target is not None:
        for fk in catalog.foreign_keys:
            hinted = embed.hint is None or embed.hint in (fk.name, *fk.columns, *fk.ref_columns)
            if not hinted:
                continue
            if (fk.schema, fk.table) == (parent.schema, parent.name) and (fk.ref_schema, fk.ref_table) == (
                target.schema,
                target.name,
            ):
                found.append((fk.name, Relationship(target, tuple(zip(fk.columns, fk.ref_columns, strict=True)), True)))
            if (fk.schema, fk.table) == (target.schema, target.name) and (fk.ref_schema, fk.ref_table) == (
                parent.schema,
                parent.name,
            ):
                one = fk.columns in target.unique_keys
                found.append((fk.name, Relationship(target, tuple(zip(fk.ref_columns, fk.columns, strict=True)), one)))
    if target is not None:
        found.extend(_many_to_many(catalog, parent, target, embed.hint))
    if not found:
        raise RestError(
            400,
            "PGRST200",
            f"Could not find a relationship between '{parent.name}' and '{embed.name}' in the schema cache",
            f"Searched for a foreign key relationship between '{parent.name}' and '{embed.name}'"
            + (f" using the hint '{embed.hint}'" if embed.hint else "")
            + f" in the schema '{parent.schema}', but no matches were found.",
            "Perhaps you meant a different relationship or table.",
        )
    if len(found) > 1:
        raise RestError(
            300,
            "PGRST201",
            f"Could not embed because more than one relationship was found for '{parent.name}' and '{embed.name}'",
            ", ".join(name for name, _ in found),
            f"Try changing '{embed.name}' to one of: " + ", ".join(f"'{embed.name}!{name}'" for name, _ in found),
        )
    return found[0][1]


def _many_to_many(catalog: Catalog, parent: Table, target: Table, hint: str | None) -> list[tuple[str, Relationship]]:
    """Junction tables: one FK to each side, both within the junction's primary key (PostgREST's rule)."""
    found: list[tuple[str, Relationship]] = []
    by_table: dict[tuple[str, str], list[Any]] = {}
    for fk in catalog.foreign_keys:
        by_table.setdefault((fk.schema, fk.table), []).append(fk)
    for (schema, name), fks in by_table.items():
        junction = catalog.table(schema, name)
        if (
            junction is None
            or junction.kind not in ("r", "p")
            or (schema, name)
            in (
                (parent.schema, parent.name),
                (target.schema, target.name),
            )
        ):
            continue
        keyed = set(junction.primary_key)
        for left in fks:
            if (left.ref_schema, left.ref_table) != (parent.schema, parent.name) or not set(left.columns) <= keyed:
                continue
            for right in fks:
                if right is left or (right.ref_schema, right.ref_table) != (target.schema, target.name):
                    continue
                if not set(right.columns) <= keyed:
                    continue
                if hint is not None and hint not in (name, left.name, right.name):
                    continue
                found.append(
                    (
                        f"{name} using {left.name} and {right.name}",
                        Relationship(
                            target,
                            tuple(zip(left.ref_columns, left.columns, strict=True)),
                            False,
                            junction,
                            tuple(zip(right.columns, right.ref_columns, strict=True)),
                        ),
                    )
                )
    return found
