"""A PDF form's filled-in values, for worker/extraction.py: they live in the form's fields (the
catalog's /AcroForm /Fields, each drawn by an appearance of its own), not in any page's content,
so the page text pypdf reads has the form's labels and none of its answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def form_fields(reader: Any, in_time: Callable[[], None]) -> Iterator[str]:
    """`<name>: <value>` for each field with a value, in the form's order: a field's name its
    parents' and its own (`address.city`), a text a text, a box's or a list's choice its export
    name (`Yes`, `Off`), several choices comma-separated. Fields are walked by hand, each object
    once (a broken file's field can be its own kid), the clock checked at each."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject  # noqa: PLC0415

    form = reader.trailer["/Root"].get("/AcroForm")
    form = form.get_object() if form is not None else None
    fields = form.get("/Fields") if isinstance(form, DictionaryObject) else None
    fields = fields.get_object() if fields is not None else None
    if not isinstance(fields, ArrayObject):
        return
    seen: set[int] = set()
    stack: list[tuple[Any, str]] = [(ref, "") for ref in reversed(fields)]
    while stack:
        in_time()
        ref, parent = stack.pop()
        if isinstance(ref, IndirectObject):
            if ref.idnum in seen:
                continue
            seen.add(ref.idnum)
        field = ref.get_object()
        if not isinstance(field, DictionaryObject):
            continue
        own = field.get("/T")
        name = f"{parent}.{own}" if parent and own is not None else str(own) if own is not None else parent
        value = _value(field.get("/V"))
        if own is not None and value:
            yield f"{name}: {value}"
        kids = field.get("/Kids")
        kids = kids.get_object() if kids is not None else None
        if isinstance(kids, ArrayObject):
            stack.extend((kid, name) for kid in reversed(kids))


def _value(value: Any) -> str:
    from pypdf.generic import ArrayObject, NameObject, TextStringObject  # noqa: PLC0415

    value = value.get_object() if value is not None else None
    if isinstance(value, NameObject):
        return str(value)[1:]  # a box's export name: /Yes
    if isinstance(value, TextStringObject):
        return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()
    if isinstance(value, ArrayObject):  # a list's several choices
        return ", ".join(choice for choice in (_value(item) for item in value) if choice)
    return ""
