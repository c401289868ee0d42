"""Which function a call means: PostgREST's `findProc`, and its PGRST202/PGRST203 word for word.

A call names its arguments (the JSON body's keys, the form's, or a GET's plain parameters). A
function matches when every required parameter is named and nothing else is; failing that, a
POST may reach a function with a single parameter whose type the body's Content-Type carries
(json/jsonb for application/json, text for text/plain, xml for text/xml, bytea for
application/octet-stream). Overloads keep PostgREST's order, so the candidate list of PGRST203
reads as its does; the hint of PGRST202 is its fuzzy "Perhaps you meant" (`localbase.rest.fuzzy`).
"""

from __future__ import annotations

from localbase.rest.catalog import Catalog, Function
from localbase.rest.errors import RestError
from localbase.rest.fuzzy import FuzzySet

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
RAW_BODIES = {"text/plain": "text", "text/xml": "xml", "application/octet-stream": "bytea"}
_JSON_BODY_TYPES = frozenset({"json", "jsonb"})


def find(catalog: Catalog, schema: str, name: str, keys: frozenset[str], *, media: str, post: bool) -> Function:
    candidates = catalog.functions.get((schema, name), [])
    raw = post and media in RAW_BODIES
    named = [f for f in candidates if (f.args or not raw) and f.accepts(keys)]
    fallback = [f for f in candidates if f not in named and _takes_body(f, media, post)]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise _ambiguous(named)
    if len(fallback) == 1:
        return fallback[0]
    if fallback:
        raise _ambiguous(fallback)
    raise _not_found(catalog, schema, name, sorted(keys), media=media, post=post, overloads=candidates)


def _takes_body(function: Function, media: str, post: bool) -> bool:
    if not post or len(function.args) != 1:
        return False
    kind = function.args[0].type
    return (media == JSON and kind in _JSON_BODY_TYPES) or RAW_BODIES.get(media) == kind


def _ambiguous(functions: list[Function]) -> RestError:
    listed = ", ".join(f"{f.schema}.{f.name}({', '.join(f'{a.name} => {a.type}' for a in f.args)})" for f in functions)
    return RestError(
        300,
        "PGRST203",
        f"Could not choose the best candidate function between: {listed}",
        None,
        "Try renaming the parameters or the function itself in the database so function overloading can be resolved",
    )


def _not_found(
    catalog: Catalog,
    schema: str,
    name: str,
    keys: list[str],
    *,
    media: str,
    post: bool,
    overloads: list[Function],
) -> RestError:
    function = f"{schema}.{name}"
    raw = post and media in RAW_BODIES
    listed = f"({', '.join(keys)})" if keys else " without parameters"
    searched = f" with parameter{'s' if len(keys) > 1 else ''} {', '.join(keys)}" if keys else " without parameters"
    if raw:
        searched = f" with a single unnamed {RAW_BODIES[media]} parameter"
    elif post and media == JSON:
        searched += " or with a single unnamed json/jsonb parameter"
    return RestError(
        404,
        "PGRST202",
        f"Could not find the function {function}{'' if raw else listed} in the schema cache",
        f"Searched for the function {function}{searched}, but no matches were found in the schema cache.",
        None if raw else _hint(catalog, schema, name, keys, overloads),
    )


def _hint(catalog: Catalog, schema: str, name: str, keys: list[str], overloads: list[Function]) -> str | None:
    if overloads:
        lists = FuzzySet(_params_text([a.name for a in f.args]) for f in overloads)
        found = lists.get_one(_params_text(keys))
        return f"Perhaps you meant to call the function {schema}.{name}{found}" if found else None
    names = FuzzySet(n for s, n in catalog.functions if s == schema)
    found = names.get_one(name)
    return f"Perhaps you meant to call the function {schema}.{found}" if found else None


def _params_text(names: list[str]) -> str:
    return "(" + ", ".join(sorted(names)) + ")"
