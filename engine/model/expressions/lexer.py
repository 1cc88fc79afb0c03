"""The tokenizer: expression text into tokens (numbers, strings with escapes, names, operators),
with a hint for the usual mistakes (``=`` for ``==``, ``&&`` for ``and``)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, NamedTuple

from engine.errors import ExpressionError

_MAX_DIGITS = 100


class _Token(NamedTuple):
    kind: str  # "number", "string", "name", "op" or "end"
    text: str  # as written in the source
    value: Any
    offset: int


_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NAME = re.compile(r"[^\W\d]\w*")
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ",", ".")
_MISTAKES = {
    "<>": "'<>' is not an operator; use '!=' to compare",
    "&&": "'&&' is not an operator; use 'and'",
    "||": "'||' is not an operator; use 'or'",
    "=": "'=' is not an operator; use '==' to compare",
    "!": "'!' is not an operator; use 'not'",
    "&": "'&' is not an operator; use 'and'",
    "|": "'|' is not an operator; use 'or'",
    "%": "'%' is not supported; the operators are + - * /",
}
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}
_HEX = frozenset("0123456789abcdefABCDEF")


def _column(offset: int) -> int:
    return offset + 1


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, end = 0, len(source)
    while i < end:
        char = source[i]
        if char.isspace():
            i += 1
        elif char in "\"'":
            i = _read_string(source, i, tokens)
        elif "0" <= char <= "9":
            i = _read_number(source, i, tokens)
        elif name := _NAME.match(source, i):
            tokens.append(_Token("name", name.group(), None, i))
            i = name.end()
        elif source.startswith("<>", i):
            raise ExpressionError(_MISTAKES["<>"], i)
        elif op := next((op for op in _OPERATORS if source.startswith(op, i)), None):
            tokens.append(_Token("op", op, None, i))
            i += len(op)
        elif mistake := next((m for m in _MISTAKES if source.startswith(m, i)), None):
            raise ExpressionError(_MISTAKES[mistake], i)
        else:
            shown = f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"
            raise ExpressionError(f"unexpected character {shown} at column {_column(i)}", i)
    tokens.append(_Token("end", "", None, end))
    return tokens


def _read_number(source: str, start: int, tokens: list[_Token]) -> int:
    match = _NUMBER.match(source, start)
    assert match is not None  # the caller saw a digit
    text, end = match.group(), match.end()
    if end < len(source) and source[end] == ".":
        message = f"malformed number '{text}.' at column {_column(start)}; write decimals as 1.5"
        raise ExpressionError(message, start)
    if end < len(source) and (source[end].isalnum() or source[end] == "_"):
        message = (
            f"unexpected '{source[end]}' right after the number {text} at column "
            f"{_column(end)}; put a space or an operator between them"
        )
        raise ExpressionError(message, end)
    if len(text) > _MAX_DIGITS:
        message = (
            f"the number at column {_column(start)} is too long (at most {_MAX_DIGITS} digits)"
        )
        raise ExpressionError(message, start)
    value: int | Decimal = Decimal(text) if "." in text else int(text)
    tokens.append(_Token("number", text, value, start))
    return end


def _read_string(source: str, start: int, tokens: list[_Token]) -> int:
    quote, i = source[start], start + 1
    parts: list[str] = []
    unterminated = f"unterminated string starting at column {_column(start)}; close it with {quote}"
    while True:
        if i >= len(source):
            raise ExpressionError(unterminated, start)
        char = source[i]
        if char == quote:
            break
        if char != "\\":
            stop = i + 1
            while stop < len(source) and source[stop] not in (quote, "\\"):
                stop += 1
            parts.append(source[i:stop])
            i = stop
            continue
        escape = source[i + 1 : i + 2]
        if not escape:
            raise ExpressionError(unterminated, start)
        if escape in _ESCAPES:
            parts.append(_ESCAPES[escape])
            i += 2
        elif (
            escape == "u" and len(digits := source[i + 2 : i + 6]) == 4 and _HEX.issuperset(digits)
        ):
            parts.append(chr(int(digits, 16)))
            i += 6
        else:
            shown = escape if escape.isprintable() else f"U+{ord(escape):04X}"
            message = (
                f"unknown escape '\\{shown}' at column {_column(i)}; write '\\\\' for a backslash "
                f"(known escapes: \\\" \\' \\\\ \\n \\t \\r \\uXXXX)"
            )
            raise ExpressionError(message, i)
    tokens.append(_Token("string", source[start : i + 1], "".join(parts), start))
    return i + 1
