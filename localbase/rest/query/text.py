"""The lexical layer of the grammar: a hand cursor, fields with JSON paths, quoting, splitting.

Everything here is pure text handling; names and values come out unquoted, and unbalanced
quotes or brackets are PGRST100.
"""

from __future__ import annotations

import re

from localbase.rest.query.tree import Field, parse_error

OPERATOR_PREFIX = re.compile(r"(not\.)?([a-z]+)(?:\((any|all)\)|\(([^()]*)\))?\.")


class Cursor:
    """A position in a text being parsed by hand."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self, literal: str) -> bool:
        return self.text.startswith(literal, self.pos)

    def take(self, literal: str) -> bool:
        if self.peek(literal):
            self.pos += len(literal)
            return True
        return False

    @property
    def done(self) -> bool:
        return self.pos >= len(self.text)

    def name(self) -> str:
        """An identifier: double-quoted, or a run of characters that are not syntax."""
        if self.take('"'):
            out: list[str] = []
            while not self.done:
                char = self.text[self.pos]
                if char == "\\" and self.pos + 1 < len(self.text):
                    out.append(self.text[self.pos + 1])
                    self.pos += 2
                    continue
                self.pos += 1
                if char == '"':
                    return "".join(out)
                out.append(char)
            raise parse_error(f"unclosed quote in ({self.text})")
        start = self.pos
        while not self.done:
            char = self.text[self.pos]
            if char in ',.:()!"' or char.isspace() or (char == "-" and self.peek("->")):
                break
            self.pos += 1
        return self.text[start : self.pos]


def parse_field(text: str) -> Field:
    cursor = Cursor(text)
    field = read_field(cursor)
    if not cursor.done:
        raise parse_error(f"failed to parse field ({text})", f"unexpected {text[cursor.pos :]!r}")
    return field


def read_field(cursor: Cursor) -> Field:
    name = cursor.name()
    if not name:
        raise parse_error(f"failed to parse field ({cursor.text})")
    path: list[tuple[str, str]] = []
    while True:
        if cursor.take("->>"):
            arrow = "->>"
        elif cursor.take("->"):
            arrow = "->"
        else:
            break
        key = cursor.name()
        if not key:
            raise parse_error(f"failed to parse JSON path ({cursor.text})")
        path.append((arrow, key))
    return Field(name, tuple(path))


def split_dotted(text: str, keep_arrows: bool = False) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
            current.append(char)
        elif char == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    if keep_arrows:
        return parts
    return [unquote_name(part) for part in parts]


def unquote_name(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text


def name_list(text: str, what: str) -> tuple[str, ...]:
    names = tuple(unquote_name(part) for part in split_top(text, ","))
    if not names or any(not name for name in names):
        raise parse_error(f"failed to parse {what} parameter ({text})")
    return names


def unquote_value(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside double quotes, parentheses and braces."""
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
        elif char == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if quoted or depth != 0:
        raise parse_error(f'"failed to parse ({text})"', "unbalanced quotes or brackets")
    parts.append(text[start:])
    return [part for part in parts if part != ""]
