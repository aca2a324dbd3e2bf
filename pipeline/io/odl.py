r"""A small, strict, exception-safe parser of ODL / PVL labels (PDS3 and ISIS2/ISIS3 cubes).

pdr's own PVL parser is tuned for well-formed PDS3 archive labels: it upper-cases nothing,
does not nest mixed-case ISIS ``Object``/``Group`` blocks and warns (rather than fails) on
malformed text. Ingest must parse every label of a folder, including damaged ones, and turn
every problem into a :class:`pipeline.errors.UnreadableFrame`, so labels are parsed here:
a single regular-expression tokenizer (linear time) and a recursive-descent parser with a
nesting limit, so no input can hang it or raise anything else. Errors give the line number.

Syntax
------
- ``KEY = value`` statements, ``OBJECT``/``GROUP`` blocks (also ``BEGIN_OBJECT``/
  ``BEGIN_GROUP``) closed by ``END_OBJECT``/``END_GROUP`` or ISIS's ``EndObject``/
  ``EndGroup`` (any case, optionally ``= name``), the label closed by ``END`` (a detached
  label or PVL file may omit it);
- comments: ``/* ... */`` (may span lines), and ISIS's ``#`` and ``//`` comment lines;
- ISIS continuation: a line ending in ``-`` continues on the next line; the ``-``, the line
  break and the next line's indentation are removed (``GLD100-`` + ``/WAC.cub`` ->
  ``GLD100/WAC.cub``), in bare words, quoted strings, units and sequences alike, exactly as
  ISIS ``PvlKeyword`` joins them. A quoted string broken without ``-`` joins its lines
  with one space.

Values
------
- integers (also radix ``16#FF7FFFFB#``), floats, strings (quoted or bare words, dates
  stay strings), sequences ``( ... )`` as tuples and sets ``{ ... }`` as tuples;
- a value followed by ``<unit>`` becomes :class:`Quantity`;
- keys are upper-cased; ``OBJECT``/``GROUP`` blocks become nested :class:`Label` objects
  (a :class:`dict` subclass), the first occurrence of a duplicate key wins, all occurrences
  are kept in :attr:`Label.all`.

>>> lab = parse_label("Object = IsisCube\n  ShapeModel = $base/dems/ldem-\n      _pad.cub\n"
...                   "  Center = (415 <nm>, 566 <nm>)\nEnd_Object\nEnd\n")
>>> lab["ISISCUBE"]["SHAPEMODEL"], lab["ISISCUBE"]["CENTER"][1]
('$base/dems/ldem_pad.cub', Quantity(value=566, unit='nm'))
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Label", "LabelSyntaxError", "Quantity", "find_label_end", "parse_label"]

MAX_DEPTH = 32


class LabelSyntaxError(ValueError):
    """The label text is not valid ODL/PVL (converted to UnreadableFrame by the readers).

    Attributes
    ----------
    line : int or None
        1-based line of the label where the problem is (``None`` when not known).
    """

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


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
        """Store ``value`` under ``key``: the first one is kept as the item, every one in ``all[key]``."""
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


_CONT = r"-[ \t]*(?:\r\n|\n|\r)[ \t]*"  # ISIS: a trailing '-' joins the next line
_CONT_RE = re.compile(_CONT)
_BREAK_RE = re.compile(r"[ \t]*(?:\r\n|\n|\r)[ \t]*")

_TOKEN = re.compile(
    rf"""
    (?P<comment>/\*.*?\*/                    # /* comment */ (may span lines)
      | ^[ \t]*(?:\#|//)[^\r\n]*)            # ISIS '#' and '//' comment lines
  | (?P<opencomment>/\*)                    # a comment that never closes
  | (?P<string>"[^"]*")                      # "quoted text" (may span lines)
  | (?P<literal>'[^']*')                     # 'symbolic literal'
  | (?P<unit><(?:{_CONT}|[^<>\r\n])*>)       # <unit>
  | (?P<punct>[=(){{}},])
  | (?P<word>(?:{_CONT}|[^\s=(){{}},<>"'\-]|-)+)
  | (?P<space>\s+)
  | (?P<bad>["'<>])                          # an unterminated quote or unit
    """,
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)

_INT = re.compile(r"[+-]?\d+\Z")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?\Z")
_RADIX = re.compile(r"([+-]?)(\d+)#([0-9A-Fa-f]+)#\Z")

_END_BLOCK = {"END_OBJECT": "OBJECT", "ENDOBJECT": "OBJECT", "END_GROUP": "GROUP", "ENDGROUP": "GROUP"}
_BEGIN_BLOCK = {"OBJECT": "OBJECT", "BEGIN_OBJECT": "OBJECT", "GROUP": "GROUP", "BEGIN_GROUP": "GROUP"}


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


class _Lines:
    """Character offset -> 1-based line number."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer(r"\r\n|\n|\r", text)]

    def __call__(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)


def _tokenize(text: str, lines: _Lines) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind in ("comment", "space"):
            continue
        if kind in ("bad", "opencomment"):
            what = "comment (no */)" if kind == "opencomment" else repr(m.group())
            raise LabelSyntaxError(f"unterminated {what}", lines(m.start()))
        tokens.append((kind, m.group(), m.start()))
    return tokens


def _clean_string(body: str) -> str:
    if "\n" not in body and "\r" not in body:
        return body
    return _BREAK_RE.sub(" ", _CONT_RE.sub("", body))


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], lines: _Lines):
        self.tokens = tokens
        self.lines = lines
        self.i = 0

    def error(self, message: str, tok: tuple[str, str, int] | None = None) -> LabelSyntaxError:
        if tok is None and self.tokens:
            tok = self.tokens[min(self.i, len(self.tokens)) - 1]
        return LabelSyntaxError(message, self.lines(tok[2]) if tok else None)

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self) -> tuple[str, str, int]:
        if self.i >= len(self.tokens):
            raise self.error("label ends in the middle of a statement (no END?)")
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_punct(self, tok: tuple[str, str, int] | None, char: str) -> bool:
        return tok is not None and tok[0] == "punct" and tok[1] == char

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise self.error("values nested too deeply")
        tok = self.next()
        kind, text, _ = tok
        if kind == "punct" and text in "({":
            close = ")" if text == "(" else "}"
            items: list[Any] = []
            while True:
                nxt = self.peek()
                if nxt is None:
                    raise self.error(f"unclosed {text!r}", tok)
                if self.is_punct(nxt, close):
                    self.i += 1
                    break
                if self.is_punct(nxt, ","):
                    self.i += 1
                    continue
                items.append(self.value(depth + 1))
            out: Any = tuple(items)
        elif kind == "string" or kind == "literal":
            out = _clean_string(text[1:-1])
        elif kind == "word":
            out = _convert_word(_CONT_RE.sub("", text) if "-" in text else text)
        else:
            raise self.error(f"expected a value, found {text!r}", tok)
        nxt = self.peek()
        if nxt is not None and nxt[0] == "unit":
            self.i += 1
            out = Quantity(out, _CONT_RE.sub("", nxt[1][1:-1]).strip())
        return out

    def block(self, end: str | None, depth: int) -> Label:
        if depth > MAX_DEPTH:
            raise self.error("OBJECT/GROUP blocks nested too deeply")
        label = Label()
        while True:
            if self.peek() is None:
                if end is None:
                    return label  # tolerate a missing END at the very end of a detached label
                raise self.error(f"missing END_{end} (the label ends inside an {end})")
            tok = self.next()
            kind, text, _ = tok
            if kind != "word":
                raise self.error(f"expected a keyword, found {text!r}", tok)
            key = _CONT_RE.sub("", text).upper() if "-" in text else text.upper()
            if key == "END":
                if end is not None:
                    raise self.error(f"END before END_{end}", tok)
                return label
            if key in _END_BLOCK:
                if end is None or _END_BLOCK[key] != end:
                    expected = f"END_{end}" if end else "a keyword"
                    raise self.error(f"unexpected {text} (expected {expected})", tok)
                if self.is_punct(self.peek(), "="):
                    self.i += 1
                    self.next()
                return label
            eq = self.next()
            if not self.is_punct(eq, "="):
                raise self.error(f"expected '=' after {text!r}, found {eq[1]!r}", eq)
            if key in _BEGIN_BLOCK:
                name = self.value(depth + 1)
                child = self.block(_BEGIN_BLOCK[key], depth + 1)
                label.add(str(name).upper(), child)
            else:
                label.add(key, self.value(depth + 1))


def find_label_end(text: str) -> int | None:
    """Character index just after the ``END`` statement closing a label, or None."""
    m = re.search(r"(?im)^[ \t]*END[ \t]*(?:/\*.*?\*/)?[ \t]*(?:\r?\n|\r|\Z)", text)
    return m.end() if m else None


def parse_label(text: str) -> Label:
    """Parse ODL/PVL ``text`` (everything up to ``END``).

    Parameters
    ----------
    text : str
        The label (an attached label may be followed by anything after its ``END`` line).

    Returns
    -------
    Label
        The top-level block; nested ``OBJECT``/``GROUP`` blocks are :class:`Label` values
        under their upper-cased names.

    Raises
    ------
    LabelSyntaxError
        Anything malformed, with the 1-based line (the readers convert it to
        ``UnreadableFrame`` naming the file).
    """
    end = find_label_end(text)
    if end is not None:
        text = text[:end]
    lines = _Lines(text)
    try:
        return _Parser(_tokenize(text, lines), lines).block(None, 0)
    except RecursionError:  # pragma: no cover - MAX_DEPTH keeps well below the limit
        raise LabelSyntaxError("label nested too deeply") from None
