"""A small, strict, exception-safe parser of ODL / PVL labels (PDS3 and ISIS3 cubes).

pdr's own PVL parser is tuned for well-formed PDS3 archive labels: it upper-cases nothing,
does not nest mixed-case ISIS ``Object``/``Group`` blocks and warns (rather than fails) on
malformed text. Ingest must parse every label of a folder, including damaged ones, and turn
every problem into a :class:`pipeline.errors.UnreadableFrame`, so labels are parsed here:
a single regular-expression tokenizer (linear time) and a recursive-descent parser with a
nesting limit, so no input can hang it or raise anything else.

Values
------
- integers (also radix ``16#FF7FFFFB#``), floats, strings (quoted or bare words, dates
  stay strings), sequences ``( ... )`` as tuples and sets ``{ ... }`` as tuples;
- a value followed by ``<unit>`` becomes :class:`Quantity`;
- keys are upper-cased; ``OBJECT``/``GROUP`` blocks become nested :class:`Label` objects
  (a :class:`dict` subclass), the first occurrence of a duplicate key wins, all occurrences
  are kept in :attr:`Label.all`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Label", "LabelSyntaxError", "Quantity", "find_label_end", "parse_label"]

MAX_DEPTH = 32


class LabelSyntaxError(ValueError):
    """The label text is not valid ODL/PVL (converted to UnreadableFrame by the readers)."""


@dataclass(frozen=True)
class Quantity:
    """A value with a unit, ``12.6 <MS>`` -> ``Quantity(12.6, "MS")``."""

    value: Any
    unit: str


class Label(dict):
    """Upper-case-keyed mapping of one label block; ``all[key]`` keeps every duplicate."""

    def __init__(self) -> None:
        super().__init__()
        self.all: dict[str, list[Any]] = {}

    def add(self, key: str, value: Any) -> None:
        self.all.setdefault(key, []).append(value)
        if key not in self:
            self[key] = value

    def find(self, key: str) -> Any:
        """First value of ``key`` in this block or, depth first, in any nested block."""
        key = key.upper()
        if key in self:
            return self[key]
        for value in self.values():
            if isinstance(value, Label):
                found = value.find(key)
                if found is not None:
                    return found
        return None


_TOKEN = re.compile(
    r"""
    (?P<comment>/\*.*?(?:\*/|$))          # /* comment */ (to end of line if unterminated)
  | (?P<string>"[^"]*")                    # "quoted text" (may span lines)
  | (?P<literal>'[^']*')                   # 'symbolic literal'
  | (?P<unit><[^<>\n]*>)                   # <unit>
  | (?P<punct>[=(){},])
  | (?P<word>[^\s=(){},<>"']+)
  | (?P<space>\s+)
  | (?P<bad>["'<>])                        # an unterminated quote or unit
    """,
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)

_INT = re.compile(r"[+-]?\d+\Z")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?\Z")
_RADIX = re.compile(r"([+-]?)(\d+)#([0-9A-Fa-f]+)#\Z")


def _convert_word(word: str) -> Any:
    if _INT.match(word):
        return int(word)
    if _FLOAT.match(word):
        return float(word.replace("d", "e").replace("D", "e"))
    m = _RADIX.match(word)
    if m:
        base = int(m.group(2))
        if 2 <= base <= 16:
            try:
                value = int(m.group(3), base)
            except ValueError:
                return word
            return -value if m.group(1) == "-" else value
    return word


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind in ("comment", "space"):
            continue
        if kind == "bad":
            raise LabelSyntaxError(f"unterminated {m.group()!r} at character {m.start()}")
        tokens.append((kind, m.group()))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            raise LabelSyntaxError("label ends in the middle of a statement (no END?)")
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise LabelSyntaxError("values nested too deeply")
        kind, text = self.next()
        if kind == "punct" and text in "({":
            close = ")" if text == "(" else "}"
            items: list[Any] = []
            while True:
                tok = self.peek()
                if tok is None:
                    raise LabelSyntaxError(f"unclosed {text!r}")
                if tok == ("punct", close):
                    self.i += 1
                    break
                if tok == ("punct", ","):
                    self.i += 1
                    continue
                items.append(self.value(depth + 1))
            out: Any = tuple(items)
        elif kind == "string":
            out = " ".join(text[1:-1].split()) if "\n" in text else text[1:-1]
        elif kind == "literal":
            out = text[1:-1]
        elif kind == "word":
            out = _convert_word(text)
        else:
            raise LabelSyntaxError(f"expected a value, found {text!r}")
        tok = self.peek()
        if tok is not None and tok[0] == "unit":
            self.i += 1
            out = Quantity(out, tok[1][1:-1].strip())
        return out

    def block(self, end: str | None, depth: int) -> Label:
        if depth > MAX_DEPTH:
            raise LabelSyntaxError("OBJECT/GROUP blocks nested too deeply")
        label = Label()
        while True:
            tok = self.peek()
            if tok is None:
                if end is None:
                    return label  # tolerate a missing END at the very end of a detached label
                raise LabelSyntaxError(f"missing {end}")
            kind, text = self.next()
            if kind != "word":
                raise LabelSyntaxError(f"expected a keyword, found {text!r}")
            key = text.upper()
            if key == "END":
                if end is not None:
                    raise LabelSyntaxError(f"END before {end}")
                return label
            if key in ("END_OBJECT", "END_GROUP"):
                if end is None or key != end:
                    raise LabelSyntaxError(f"unexpected {key}")
                if self.peek() == ("punct", "="):
                    self.i += 1
                    self.next()
                return label
            if self.next() != ("punct", "="):
                raise LabelSyntaxError(f"expected '=' after {text!r}")
            if key in ("OBJECT", "GROUP"):
                name = self.value(depth + 1)
                child = self.block("END_" + key, depth + 1)
                label.add(str(name).upper(), child)
            else:
                label.add(key, self.value(depth + 1))


def find_label_end(text: str) -> int | None:
    """Character index just after the ``END`` statement closing a label, or None."""
    m = re.search(r"(?im)^[ \t]*END[ \t]*(?:/\*.*?\*/)?[ \t]*(?:\r?\n|\r|\Z)", text)
    return m.end() if m else None


def parse_label(text: str) -> Label:
    """Parse ODL/PVL ``text`` (everything up to ``END``).

    Raises
    ------
    LabelSyntaxError
        Anything malformed (the readers convert it to ``UnreadableFrame``).
    """
    end = find_label_end(text)
    if end is not None:
        text = text[:end]
    try:
        return _Parser(_tokenize(text)).block(None, 0)
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps well below the limit
        raise LabelSyntaxError("label nested too deeply") from None
