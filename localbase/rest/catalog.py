"""The schema cache's model: what tables, columns, keys and functions the exposed schemas hold.

Every identifier a request names is checked here before it reaches SQL, and the column types
here are what bound values are cast to. `localbase.rest.catalog_load` fills it from pg_catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    category: str  # pg_type.typcategory: A array, S string, U user (json), ...
    has_default: bool
    default_expr: str | None  # what `Prefer: missing=default` fills in (identity by default: nextval)
    generated: bool
    base: str = ""  # the type a filter value is read as (domains resolved, no typmod); "" = `type`

    @property
    def value_type(self) -> str:
        return self.base or self.type

    @property
    def is_json(self) -> bool:
        return self.type in ("json", "jsonb")


@dataclass(frozen=True, slots=True)
class ForeignKey:
    name: str
    schema: str
    table: str
    columns: tuple[str, ...]
    ref_schema: str
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass
class Table:
    schema: str
    name: str
    kind: str
    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    unique_keys: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"


# The one-unnamed-parameter types PostgREST can call (the raw body, by Content-Type).
UNNAMED_TYPES = frozenset({"bytea", "json", "jsonb", "text", "xml"})
_ANY_LENGTH = {"character": "character varying", "bit": "bit varying"}


@dataclass(frozen=True, slots=True)
class Argument:
    name: str
    type: str
    has_default: bool

    @property
    def record_type(self) -> str:
        """The type an argument value is read as: `character`/`bit` take any length (PostgREST's)."""
        element = self.type.removesuffix("[]")
        return _ANY_LENGTH.get(element, element) + self.type[len(element) :]


@dataclass
class Function:
    schema: str
    name: str
    volatility: str  # i, s, v
    returns_set: bool
    return_type: str
    return_kind: str  # scalar | composite | void
    args: tuple[Argument, ...]
    columns: dict[str, Column]  # for composite results
    description: str | None = None
    one_row: bool = False  # `rows 1`: a set-returning function PostgREST treats as to-one
    return_relation: tuple[str, str] | None = None  # the table/view whose rows it returns

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.name)}"

    @property
    def single_unnamed(self) -> str | None:
        """The type of the function's only parameter when it is unnamed (it takes the raw body)."""
        if len(self.args) == 1 and not self.args[0].name:
            return self.args[0].type
        return None

    def accepts(self, names: set[str] | frozenset[str]) -> bool:
        """PostgREST's match: every required parameter named, nothing that is not a parameter."""
        if not self.args:
            return not names
        required = {a.name for a in self.args if not a.has_default}
        return required <= names <= {a.name for a in self.args}

    def sort_key(self) -> tuple[object, ...]:
        """PostgREST's order of overloads (`instance Ord Routine`): fewer parameters first, then by
        description and the parameters (name, type, any-length type, required, variadic)."""
        params = [(a.name, a.type, a.record_type, not a.has_default, False) for a in self.args]
        return (len(self.args), self.description is not None, self.description or "", params)

    def as_table(self) -> Table:
        return Table(self.schema, self.name, "f", dict(self.columns))


@dataclass
class Catalog:
    tables: dict[tuple[str, str], Table] = field(default_factory=dict)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    functions: dict[tuple[str, str], list[Function]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # accepted cast name -> SQL type
    role_settings: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    timezones: frozenset[str] = frozenset()
    # Functions taking one row of a table or view: computed fields (scalar results) and computed
    # relationships (rows of a table), by the table they apply to and their name.
    computed: dict[tuple[str, str], dict[str, Function]] = field(default_factory=dict)

    def table(self, schema: str, name: str) -> Table | None:
        """A queryable relation (composite types are kept only to describe function results)."""
        table = self.tables.get((schema, name))
        return table if table is not None and table.kind != "c" else None

    def cast_type(self, name: str) -> str | None:
        return self.types.get(name.lower())


def typmod_free(type_name: str) -> str:
    """`character`/`bit` (which mean length 1 when written) by their length-free internal names."""
    element, brackets = type_name.removesuffix("[]"), "[]" if type_name.endswith("[]") else ""
    internal = {"character": "pg_catalog.bpchar", "bit": 'pg_catalog."bit"'}.get(element)
    return internal + brackets if internal else type_name


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A string literal for a trusted catalog name or verified claim (standard_conforming_strings)."""
    if "\x00" in text:
        raise ValueError("NUL byte in literal")
    return "'" + text.replace("'", "''") + "'"
