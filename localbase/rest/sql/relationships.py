"""Which relationship an embed names, by PostgREST's rules (`Plan.hs`, `findRel`).

From a table, every foreign key gives a relationship each way: many-to-one (or one-to-one when
the key's columns are unique) towards the referenced table, one-to-many (or one-to-one) back; a
junction table (a foreign key to each side, both inside its primary key) gives many-to-many.
An embed `target!hint(...)` names the related table (or, without a hint, a constraint or a
single foreign-key column of the origin); a hint names a constraint, a column of either end or
the junction. A self-referencing key is read as PostgREST reads it: `children:t(*)` is the
one-to-many side, `parent_id(*)` (the column) the many-to-one. None matching is PGRST200, several
PGRST201, with PostgREST's details and hints.
"""

from __future__ import annotations

from dataclasses import dataclass

from localbase.rest.catalog import Catalog, ForeignKey, Function, Table
from localbase.rest.errors import RestError
from localbase.rest.fuzzy import FuzzySet
from localbase.rest.query.tree import Embed


@dataclass
class Relationship:
    origin: Table
    target: Table
    constraint: str
    cardinality: str  # many-to-one | one-to-many | one-to-one | many-to-many
    pairs: tuple[tuple[str, str], ...]  # (origin column, target or junction column)
    junction: Table | None = None  # many-to-many: `pairs` lead to it, `through` from it to the target
    through: tuple[tuple[str, str], ...] = ()  # (junction column, target column)
    target_constraint: str = ""  # many-to-many: the junction's key to the target
    self_reference: bool = False
    function: Function | None = None  # a computed relationship: rows of `target` from f(origin row)

    @property
    def to_one(self) -> bool:
        return self.cardinality in ("many-to-one", "one-to-one")

    def single_column(self, origin_side: bool) -> str | None:
        if self.junction is not None or len(self.pairs) != 1:
            return None
        return self.pairs[0][0 if origin_side else 1]

    def details(self) -> dict[str, str]:
        """PostgREST's `compressedRel` (the entries of PGRST201's details)."""
        if self.function is not None:
            return {}
        if self.junction is not None:
            source = ", ".join(j for _, j in self.pairs)
            target = ", ".join(j for j, _ in self.through)
            described = f"{self.junction.name} using {self.constraint}({source}) and {self.target_constraint}({target})"
        else:
            ours = ", ".join(o for o, _ in self.pairs)
            theirs = ", ".join(t for _, t in self.pairs)
            described = f"{self.constraint} using {self.origin.name}({ours}) and {self.target.name}({theirs})"
        return {
            "cardinality": self.cardinality,
            "embedding": f"{self.origin.name} with {self.target.name}",
            "relationship": described,
        }

    def hint_name(self) -> str:
        return f"'{self.target.name}!{self.junction.name if self.junction is not None else self.constraint}'"


def relationships(catalog: Catalog, origin: Table) -> list[Relationship]:
    """Every relationship from `origin`, in a stable order (constraint by constraint, then junctions)."""
    found: list[Relationship] = []
    for fk in sorted(catalog.foreign_keys, key=lambda k: (k.schema, k.table, k.name)):
        if (fk.schema, fk.table) == (origin.schema, origin.name):
            target = catalog.table(fk.ref_schema, fk.ref_table)
            if target is not None:
                one = _unique(origin, fk.columns)
                pairs = tuple(zip(fk.columns, fk.ref_columns, strict=True))
                self_ref = target is origin
                found.append(
                    Relationship(origin, target, fk.name, _card(one, "many-to-one"), pairs, None, (), "", self_ref)
                )
        if (fk.ref_schema, fk.ref_table) == (origin.schema, origin.name):
            source = catalog.table(fk.schema, fk.table)
            if source is not None:
                one = _unique(source, fk.columns)
                pairs = tuple(zip(fk.ref_columns, fk.columns, strict=True))
                self_ref = source is origin
                found.append(
                    Relationship(origin, source, fk.name, _card(one, "one-to-many"), pairs, None, (), "", self_ref)
                )
    found.extend(_many_to_many(catalog, origin))
    for function in catalog.computed.get((origin.schema, origin.name), {}).values():
        target = catalog.table(*function.return_relation) if function.return_relation else None
        if target is not None:
            one = not function.returns_set or function.one_row
            card = "many-to-one" if one else "one-to-many"
            found.append(Relationship(origin, target, function.name, card, (), function=function))
    return found


def _card(one: bool, many: str) -> str:
    return "one-to-one" if one else many


def _unique(table: Table, columns: tuple[str, ...]) -> bool:
    return any(set(key) == set(columns) for key in table.unique_keys)


def find_relationship(catalog: Catalog, origin: Table, embed: Embed) -> Relationship:
    rels = relationships(catalog, origin)
    found = [r for r in rels if _matches(r, embed.name, embed.hint)]
    if len(found) == 1:
        return found[0]
    if found:
        raise RestError(
            300,
            "PGRST201",
            f"Could not embed because more than one relationship was found for '{origin.name}' and '{embed.name}'",
            [r.details() for r in found],
            f"Try changing '{embed.name}' to one of the following: {', '.join(r.hint_name() for r in found)}. "
            "Find the desired relationship in the 'details' key.",
        )
    raise RestError(
        400,
        "PGRST200",
        f"Could not find a relationship between '{origin.name}' and '{embed.name}' in the schema cache",
        f"Searched for a foreign key relationship between '{origin.name}' and '{embed.name}'"
        + (f" using the hint '{embed.hint}'" if embed.hint else "")
        + f" in the schema '{origin.schema}', but no matches were found.",
        _no_relationship_hint(catalog, origin, embed.name, rels),
    )


def _matches(rel: Relationship, target: str, hint: str | None) -> bool:
    if rel.function is not None:
        return target == rel.function.name  # a computed relationship is named by its function
    names_target = target == rel.target.name
    if rel.self_reference:
        if hint is None:
            return (names_target and rel.cardinality == "one-to-many") or (
                rel.cardinality == "many-to-one" and rel.single_column(True) == target
            )
        return names_target and rel.cardinality == "one-to-many" and rel.single_column(False) == hint
    if hint is None:
        keyed = rel.junction is None and rel.target.kind not in ("v", "m")
        return names_target or (keyed and (rel.constraint == target or rel.single_column(True) == target))
    if not names_target:
        return False
    if rel.junction is not None:
        return hint == rel.junction.name
    return hint in (rel.constraint, rel.single_column(True), rel.single_column(False))


def _no_relationship_hint(catalog: Catalog, origin: Table, child: str, rels: list[Relationship]) -> str | None:
    """PostgREST's `noRelBetweenHint`: a near table name among the origin's relations, or near the origin."""
    if rels:
        near = [name for score, name in FuzzySet(r.target.name for r in rels).get(child) if score < 1.0]
        return f"Perhaps you meant '{near[0]}' instead of '{child}'." if near else None
    with_relations = {
        (t.schema, t.name)
        for fk in catalog.foreign_keys
        for t in (catalog.table(fk.schema, fk.table), catalog.table(fk.ref_schema, fk.ref_table))
        if t is not None and t.schema == origin.schema
    }
    parent = FuzzySet(name for _, name in sorted(with_relations)).get_one(origin.name)
    return f"Perhaps you meant '{parent}' instead of '{origin.name}'." if parent else None


def _many_to_many(catalog: Catalog, origin: Table) -> list[Relationship]:
    """Junction tables: one FK to each side, both within the junction's primary key (PostgREST's rule)."""
    found: list[Relationship] = []
    by_table: dict[tuple[str, str], list[ForeignKey]] = {}
    for fk in sorted(catalog.foreign_keys, key=lambda k: (k.schema, k.table, k.name)):
        by_table.setdefault((fk.schema, fk.table), []).append(fk)
    for (schema, name), fks in by_table.items():
        junction = catalog.table(schema, name)
        if junction is None or junction.kind not in ("r", "p") or junction is origin:
            continue
        keyed = set(junction.primary_key)
        for left in fks:
            if (left.ref_schema, left.ref_table) != (origin.schema, origin.name) or not set(left.columns) <= keyed:
                continue
            for right in fks:
                target = catalog.table(right.ref_schema, right.ref_table)
                if right is left or target is None or target is junction or not set(right.columns) <= keyed:
                    continue
                found.append(
                    Relationship(
                        origin,
                        target,
                        left.name,
                        "many-to-many",
                        tuple(zip(left.ref_columns, left.columns, strict=True)),
                        junction,
                        tuple(zip(right.columns, right.ref_columns, strict=True)),
                        right.name,
                    )
                )
    return found
