"""The Pratt parser: tokens into a checked tree of nodes (known names and functions, arity,
nesting depth), folding constant parts, and collecting the references to the scope."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from engine.errors import ExpressionError
from engine.model.expressions.aggregates import _EXAMPLES as _AGGREGATE_EXAMPLES
from engine.model.expressions.aggregates import AGGREGATES, VALUE_AGGREGATES
from engine.model.expressions.functions import _EXAMPLES, FUNCTIONS
from engine.model.expressions.lexer import _column, _Token
from engine.model.expressions.nodes import (
    _Arith,
    _Call,
    _Compare,
    _Const,
    _List,
    _Logic,
    _Member,
    _Neg,
    _Node,
    _Not,
    _Ref,
)
from engine.model.expressions.recordnodes import (
    RECORD,
    RECORDS,
    _Aggregate,
    _Field,
    _Pluck,
    _Records,
    _Where,
    collection_of_node,
    kind_of,
    not_a_value,
)
from engine.model.expressions.values import _ARITHMETIC

MAX_DEPTH = 100

ROOT_NAMES = frozenset({"customer", "data", "now", "today", "records"})
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
_KEYWORDS = frozenset({"and", "or", "not", "in", "where", *_LITERALS})
_INFIX_WORDS = ("and", "or", "in", "where")
_CALLABLE = FUNCTIONS | AGGREGATES
_ALL_EXAMPLES = {**_EXAMPLES, **_AGGREGATE_EXAMPLES}


@dataclass(frozen=True)
class Reference:
    """A use of ``customer...``, ``data...``, ``now``, ``today`` or ``records...`` in an
    expression. A record field is ``("records", COLLECTION, FIELD)``, also for a bare name
    inside a ``where`` condition (its offset is then the name's)."""

    path: tuple[str, ...]
    offset: int


# Binding powers from low to high.
_WHERE, _OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY = range(1, 9)
_INFIX = {
    "where": _WHERE,
    "or": _OR,
    "and": _AND,
    "in": _COMPARE,
    "not in": _COMPARE,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), _COMPARE),
    "+": _SUM,
    "-": _SUM,
    "*": _PRODUCT,
    "/": _PRODUCT,
}
_NAME_HINTS = {"None": "null", "nil": "null", "undefined": "null", "is": "=="}


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.references: list[Reference] = []
        # the collections whose ``where`` conditions are being read, innermost last
        self.record_scopes: list[str] = []

    # -- token helpers

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.tokens[self.pos]
        if token.kind != "end":
            self.pos += 1
        return token

    def at_op(self, text: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.text == text

    def infix(self) -> str | None:
        token = self.peek()
        if token.kind == "op":
            return token.text if token.text in _INFIX else None
        if token.kind == "name":
            if token.text in _INFIX_WORDS:
                return token.text
            after = self.peek(1)
            if token.text == "not" and after.kind == "name" and after.text == "in":
                return "not in"
        return None

    # -- grammar

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise ExpressionError(
                'empty expression; write a condition such as customer.country == "NL"', 0
            )
        node = self.expression(0, 1)
        if self.peek().kind != "end":
            raise self.unexpected(self.peek())
        if kind_of(node) in (RECORDS, RECORD):
            error = not_a_value(node, "an expression")
            assert error is not None
            raise error
        return node

    def expression(self, min_power: int, depth: int) -> _Node:
        if depth > MAX_DEPTH:
            raise self.too_deep(self.peek().offset)
        left = self.prefix(depth)
        compared = False
        while (op := self.infix()) is not None and _INFIX[op] > min_power:
            token = self.advance()
            if op == "not in":
                self.advance()
            power = _INFIX[op]
            if power == _COMPARE and compared:
                message = (
                    f"comparisons cannot be chained ('{op}' at column {_column(token.offset)}); "
                    "write 'a < b and b < c' instead"
                )
                raise ExpressionError(message, token.offset)
            if op == "where":
                left = self.where(left, token, depth)
                continue
            right = self.expression(power, depth + 1)
            left = self.binary(op, left, right, token.offset)
            compared = power == _COMPARE
        return left

    def prefix(self, depth: int) -> _Node:
        previous = self.tokens[self.pos - 1] if self.pos else None
        token = self.advance()
        if token.kind in ("number", "string"):
            return _Const(token.value, token.offset)
        if token.kind == "name" and token.text not in _INFIX_WORDS:
            if token.text in _LITERALS:
                return _Const(_LITERALS[token.text], token.offset)
            if token.text == "not":
                operand = self.expression(_NOT, depth + 1)
                error = not_a_value(operand, "'not'")
                if error is not None:
                    raise error
                return self.fold(_Not(operand, token.offset))
            if self.at_op("("):
                return self.call(token, depth)
            return self.reference(token)
        if token.kind == "op" and token.text == "-":
            return self.fold(_Neg(self.expression(_UNARY, depth + 1), token.offset))
        if token.kind == "op" and token.text == "(":
            inner = self.expression(0, depth + 1)
            self.close(")", token)
            return self.fields_of(inner)
        if token.kind == "op" and token.text == "[":
            return self.list_literal(token, depth)
        raise self.expected_value(token, previous)

    def binary(self, op: str, left: _Node, right: _Node, offset: int) -> _Node:
        node: _Node
        self.check_operands(op, left, right, offset)
        if op in ("and", "or"):
            if isinstance(left, _Logic) and left.op == op:
                left.operands.append(right)
                return self.grown(left, right)
            node = _Logic(op, [left, right], offset)
        elif op in _ARITHMETIC:
            if isinstance(left, _Arith) and _INFIX[left.rest[0][0]] == _INFIX[op]:
                left.rest.append((op, right, offset))
                return self.grown(left, right)
            node = _Arith(left, [(op, right, offset)], offset)
        elif op in ("in", "not in"):
            node = _Member(op == "not in", left, right, offset)
        else:
            node = _Compare(op, left, right, offset)
        return self.fold(node)

    def grown(self, chain: _Node, operand: _Node) -> _Node:
        """A flat chain that took one more operand; it was not constant, so it still is not."""
        chain.depth = max(chain.depth, operand.depth + 1)
        if chain.depth > MAX_DEPTH:
            raise self.too_deep(operand.offset)
        return chain

    def reference(self, token: _Token) -> _Node:
        name = token.text
        if name not in ROOT_NAMES:
            if self.record_scopes and name not in _KEYWORDS:
                return self.record_field(token)
            raise self.unknown_name(token)
        path = [name]
        while self.at_op("."):
            self.advance()
            field = self.advance()
            if field.kind != "name":
                message = f"expected a field name after '.' at column {_column(field.offset)}"
                raise ExpressionError(message, field.offset)
            path.append(field.text)
        if len(path) > 1 and name in ("now", "today"):
            raise ExpressionError(f"'{name}' has no fields; remove '.{path[1]}'", token.offset)
        if self.at_op("("):
            dotted, last = ".".join(path), path[-1]
            if len(path) > 1 and last in _CALLABLE:
                message = f"write {last}({'.'.join(path[:-1])}) instead of {dotted}()"
            else:
                message = f"'{dotted}' is not a function"
            raise ExpressionError(message, token.offset)
        if name == "records":
            return self.records(path, token)
        reference = Reference(tuple(path), token.offset)
        self.references.append(reference)
        return _Ref(reference.path, token.offset)

    def records(self, path: list[str], token: _Token) -> _Node:
        """``records.COLLECTION`` or ``records.COLLECTION.FIELD``."""
        if len(path) == 1:
            message = (
                "'records' needs a collection of the datamodel, as in records.orders "
                f"(column {_column(token.offset)})"
            )
            raise ExpressionError(message, token.offset)
        if len(path) > 3:
            message = (
                f"'{'.'.join(path)}' goes too deep: a record's field has no fields "
                f"(column {_column(token.offset)})"
            )
            raise ExpressionError(message, token.offset)
        self.references.append(Reference(tuple(path), token.offset))
        node: _Node = _Records(path[1], token.offset)
        if len(path) == 3:
            node = _Pluck(node, path[2], token.offset)
        return node

    def record_field(self, token: _Token) -> _Node:
        """A bare name inside a ``where`` condition: a field of the record."""
        collection = self.record_scopes[-1]
        if self.at_op("."):
            message = (
                f"'{token.text}' is a field of a record in {collection} and has no fields "
                f"(column {_column(self.peek().offset)})"
            )
            raise ExpressionError(message, self.peek().offset)
        if self.at_op("("):
            raise self.unknown_function(token)
        self.references.append(Reference(("records", collection, token.text), token.offset))
        return _Field(token.text, collection, token.offset)

    def where(self, left: _Node, token: _Token, depth: int) -> _Node:
        """``LIST where COND``: COND reads the fields of each record by their bare names."""
        collection = collection_of_node(left)
        if collection is None or kind_of(left) != RECORDS:
            message = (
                f"'where' at column {_column(token.offset)} needs a list of records on its "
                'left, as in records.orders where status == "paid"'
            )
            raise ExpressionError(message, token.offset)
        self.record_scopes.append(collection)
        try:
            condition = self.expression(_WHERE, depth + 1)
        finally:
            self.record_scopes.pop()
        error = not_a_value(condition, "the condition after 'where'")
        if error is not None:
            raise error
        node = _Where(left, condition, collection, token.offset)
        if node.depth > MAX_DEPTH:
            raise self.too_deep(node.offset)
        return node

    def fields_of(self, node: _Node) -> _Node:
        """``(LIST).FIELD`` or ``first(LIST).FIELD`` after a parenthesis or a call."""
        while self.at_op("."):
            dot = self.advance()
            field = self.advance()
            if field.kind != "name":
                message = f"expected a field name after '.' at column {_column(field.offset)}"
                raise ExpressionError(message, field.offset)
            collection = collection_of_node(node)
            if collection is None or kind_of(node) not in (RECORDS, RECORD):
                message = (
                    f"'.{field.text}' at column {_column(dot.offset)} picks a field of records; "
                    "what comes before it is not a record or a list of records"
                )
                raise ExpressionError(message, dot.offset)
            self.references.append(Reference(("records", collection, field.text), field.offset))
            node = _Pluck(node, field.text, dot.offset)
        return node

    def check_operands(self, op: str, left: _Node, right: _Node, offset: int) -> None:
        """Records, a record or a field's list of values are no operand (except a list of
        values on the right of ``in``)."""
        where = f"'{op}' at column {_column(offset)}"
        for index, operand in enumerate((left, right)):
            if op in ("in", "not in") and index == 1 and kind_of(operand) == "values":
                continue
            error = not_a_value(operand, where)
            if error is not None:
                raise error

    def call(self, token: _Token, depth: int) -> _Node:
        name = token.text
        if name not in _CALLABLE:
            raise self.unknown_function(token)
        opening = self.advance()
        arguments: list[_Node] = []
        if not self.at_op(")"):
            arguments.append(self.expression(0, depth + 1))
            while self.at_op(","):
                self.advance()
                arguments.append(self.expression(0, depth + 1))
        self.close(")", opening)
        if len(arguments) != 1:
            message = (
                f"{name}() takes exactly one value, for example {_ALL_EXAMPLES[name]}; "
                f"got {len(arguments)}"
            )
            raise ExpressionError(message, token.offset)
        (argument,) = arguments
        if name in AGGREGATES:
            return self.fields_of(self.fold(self.aggregate(name, argument, token)))
        error = not_a_value(argument, f"{name}()")
        if error is not None:
            raise error
        return self.fold(_Call(name, argument, token.offset))

    @staticmethod
    def aggregate(name: str, argument: _Node, token: _Token) -> _Node:
        kind = kind_of(argument)
        if kind == RECORD or (kind == RECORDS and name in VALUE_AGGREGATES):
            what = "a record" if kind == RECORD else "records"
            example = _ALL_EXAMPLES[name]
            message = f"{name}() needs the values of a field, not {what}: write {example}"
            raise ExpressionError(message, token.offset)
        return _Aggregate(name, argument, token.offset)

    def list_literal(self, opening: _Token, depth: int) -> _Node:
        items: list[_Node] = []
        while not self.at_op("]"):
            items.append(self.expression(0, depth + 1))
            if not self.at_op(","):
                break
            self.advance()
        self.close("]", opening, separated=True)
        return self.fold(_List(tuple(items), opening.offset))

    def close(self, closer: str, opening: _Token, *, separated: bool = False) -> None:
        token = self.peek()
        if token.kind == "op" and token.text == closer:
            self.advance()
            return
        column = _column(token.offset)
        if token.kind == "end":
            message = (
                f"missing '{closer}' to close '{opening.text}' at column {_column(opening.offset)}"
            )
            raise ExpressionError(message, opening.offset)
        if token.kind == "op" and token.text in (")", "]"):
            message = (
                f"expected '{closer}' at column {column} to close '{opening.text}' "
                f"at column {_column(opening.offset)}, but found '{token.text}'"
            )
            raise ExpressionError(message, token.offset)
        if separated and self.starts_value(token):
            raise ExpressionError(
                f"missing ',' before '{token.text}' at column {column}", token.offset
            )
        raise self.unexpected(token)

    # -- errors

    @staticmethod
    def starts_value(token: _Token) -> bool:
        if token.kind in ("number", "string"):
            return True
        if token.kind == "name":
            return token.text not in _INFIX_WORDS
        return token.kind == "op" and token.text in ("(", "[")

    def unexpected(self, token: _Token) -> ExpressionError:
        """A token where an operator or the end was expected."""
        column, text = _column(token.offset), token.text
        if token.kind == "op" and text in (")", "]"):
            opener = "(" if text == ")" else "["
            message = (
                f"unmatched '{text}' at column {column}; remove it or add '{opener}' before it"
            )
        elif (
            token.kind == "name"
            and text.lower() in ("and", "or", "not", "in")
            and text != text.lower()
        ):
            message = f"write '{text}' in lower case ('{text.lower()}') at column {column}"
        elif token.kind == "name" and text == "is":
            message = f"'is' is not an operator (column {column}); use '==' or '!='"
        elif token.kind == "name" and text == "not":
            message = f"unexpected 'not' at column {column}; did you mean 'not in'?"
        elif self.starts_value(token):
            message = (
                f"missing operator before '{text}' at column {column}; "
                "join conditions with 'and' or 'or'"
            )
        else:
            message = f"unexpected '{text}' at column {column}"
        return ExpressionError(message, token.offset)

    def expected_value(self, token: _Token, previous: _Token | None) -> ExpressionError:
        column = _column(token.offset)
        where = f"after '{previous.text}' at column {column}" if previous else f"at column {column}"
        message = f"expected a value {where}"
        if token.kind != "end":
            message += f" but found '{token.text}'"
        if token.kind == "op" and token.text == "." and self.peek().kind == "number":
            message += f"; write 0.{self.peek().text} rather than .{self.peek().text}"
        return ExpressionError(message, token.offset)

    def unknown_name(self, token: _Token) -> ExpressionError:
        name, lower = token.text, token.text.lower()
        if name in _NAME_HINTS:
            message = f"unknown name '{name}'; use '{_NAME_HINTS[name]}'"
        elif lower != name and lower in ROOT_NAMES | _KEYWORDS:
            message = f"unknown name '{name}'; write it in lower case: '{lower}'"
        elif name in _CALLABLE:
            message = f"'{name}' is a function; call it as {_ALL_EXAMPLES[name]}"
        elif close := difflib.get_close_matches(name, sorted(ROOT_NAMES | set(_LITERALS)), n=1):
            message = f"unknown name '{name}'; did you mean '{close[0]}'?"
        else:
            message = (
                f"unknown name '{name}'; write a customer field as customer.{name} "
                f"and entry data as data.{name}"
            )
        return ExpressionError(message, token.offset)

    def unknown_function(self, token: _Token) -> ExpressionError:
        name, lower = token.text, token.text.lower()
        if name in ROOT_NAMES or name in _KEYWORDS:
            message = f"'{name}' is not a function"
        elif lower in _CALLABLE:
            message = f"unknown function '{name}'; write it in lower case: '{lower}'"
        elif close := difflib.get_close_matches(name, sorted(_CALLABLE), n=1):
            message = f"unknown function '{name}'; did you mean '{close[0]}'?"
        else:
            message = f"unknown function '{name}'; the functions are {', '.join(sorted(_CALLABLE))}"
        return ExpressionError(message, token.offset)

    @staticmethod
    def too_deep(offset: int) -> ExpressionError:
        message = (
            f"expression is nested too deeply at column {_column(offset)} "
            f"(more than {MAX_DEPTH} levels); split it into simpler conditions"
        )
        return ExpressionError(message, offset)

    def fold(self, node: _Node) -> _Node:
        """Check the nesting and replace a constant node by its value (errors surface now)."""
        if node.depth > MAX_DEPTH:
            raise self.too_deep(node.offset)
        if not node.is_constant():
            return node
        try:
            return _Const(node.compile()({}), node.offset)
        except (ArithmeticError, ValueError, TypeError, RecursionError) as exc:
            raise ExpressionError(f"cannot work out the value here: {exc}", node.offset) from exc
