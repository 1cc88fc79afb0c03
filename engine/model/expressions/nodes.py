"""The tree of a parsed expression: each node knows its depth and compiles itself into a closure
over the scope, with fast paths for comparisons with a constant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.errors import ExpressionError
from engine.model.expressions.functions import _CLOCK_FUNCTIONS, _FUNCTIONS
from engine.model.expressions.values import (
    _ARITHMETIC,
    _ORDER,
    _PLAIN,
    Scope,
    _contains,
    _describe,
    _equal,
    _Fn,
    _negate,
    _order,
)


class _Node:
    offset: int
    depth: int

    def __post_init__(self) -> None:
        self.depth = 1 + max((child.depth for child in self.children()), default=0)

    def children(self) -> tuple[_Node, ...]:
        return ()

    def is_constant(self) -> bool:
        return all(isinstance(child, _Const) for child in self.children())

    def compile(self) -> _Fn:
        raise NotImplementedError


@dataclass(eq=False)
class _Const(_Node):
    value: Any
    offset: int

    def compile(self) -> _Fn:
        value = self.value

        def constant(scope: Scope) -> Any:
            return value

        return constant


def _is_null(node: _Node) -> bool:
    return isinstance(node, _Const) and node.value is None


@dataclass(eq=False)
class _Ref(_Node):
    path: tuple[str, ...]
    offset: int

    def is_constant(self) -> bool:
        return False

    def compile(self) -> _Fn:
        root, fields = self.path[0], self.path[1:]
        if not fields:

            def whole(scope: Scope) -> Any:
                return scope.get(root)

            return whole
        if len(fields) == 1:
            name = fields[0]

            def field(scope: Scope) -> Any:
                record = scope.get(root)
                if type(record) is dict:
                    return record.get(name)
                return _walk(record, fields)

            return field

        def path(scope: Scope) -> Any:
            return _walk(scope.get(root), fields)

        return path


def _walk(value: Any, fields: tuple[str, ...]) -> Any:
    for name in fields:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


@dataclass(eq=False)
class _Not(_Node):
    operand: _Node
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.operand,)

    def compile(self) -> _Fn:
        get = self.operand.compile()

        def negation(scope: Scope) -> bool:
            return not get(scope)

        return negation


@dataclass(eq=False)
class _Neg(_Node):
    operand: _Node
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.operand,)

    def compile(self) -> _Fn:
        get, offset = self.operand.compile(), self.offset

        def minus(scope: Scope) -> Any:
            return _negate(get(scope), offset)

        return minus


@dataclass(eq=False)
class _Logic(_Node):
    op: str  # "and" or "or"; chains are flat so long chains do not nest
    operands: list[_Node]  # the parser appends while it reads a chain
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return tuple(self.operands)

    def compile(self) -> _Fn:
        getters = tuple(operand.compile() for operand in self.operands)
        if len(getters) == 2:
            first, second = getters
            if self.op == "and":

                def both(scope: Scope) -> bool:
                    return bool(first(scope) and second(scope))

                return both

            def either(scope: Scope) -> bool:
                return bool(first(scope) or second(scope))

            return either
        if self.op == "and":

            def every(scope: Scope) -> bool:
                return all(get(scope) for get in getters)

            return every

        def some(scope: Scope) -> bool:
            return any(get(scope) for get in getters)

        return some


@dataclass(eq=False)
class _Arith(_Node):
    first: _Node
    rest: list[tuple[str, _Node, int]]  # (operator, operand, operator offset), left to right
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.first, *(operand for _, operand, _ in self.rest))

    def compile(self) -> _Fn:
        first = self.first.compile()
        steps = tuple((_ARITHMETIC[op], node.compile(), at) for op, node, at in self.rest)
        if len(steps) == 1:
            ((apply, second, at),) = steps

            def pair(scope: Scope) -> Any:
                return apply(first(scope), second(scope), at)

            return pair

        def chain(scope: Scope) -> Any:
            value = first(scope)
            for apply, get, at in steps:
                value = apply(value, get(scope), at)
            return value

        return chain


@dataclass(eq=False)
class _Compare(_Node):
    op: str
    left: _Node
    right: _Node
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.left, self.right)

    def compile(self) -> _Fn:
        op, left, right, offset = self.op, self.left, self.right, self.offset
        if op in ("==", "!=") and (_is_null(left) or _is_null(right)):
            return _null_test(op, right if _is_null(left) else left)
        if op in ("==", "!=") and isinstance(left, _Const) and not isinstance(right, _Const):
            left, right = right, left
        get_left = left.compile()
        if isinstance(right, _Const) and _fast_paths(right.value)[0] is not _Never:
            return _compare_constant(op, get_left, right.value, offset)
        get_right = right.compile()
        if op in ("==", "!="):
            equal = op == "=="

            def equality(scope: Scope) -> bool:
                a, b = get_left(scope), get_right(scope)
                if a is None or b is None:
                    return False
                return _equal(a, b) == equal

            return equality
        compare = _ORDER[op]

        def order(scope: Scope) -> bool:
            a, b = get_left(scope), get_right(scope)
            if a is None or b is None:
                return False
            if type(a) is type(b) and type(a) in _PLAIN:
                return bool(compare(a, b))
            return _order(op, a, b, offset)

        return order


def _null_test(op: str, other: _Node) -> _Fn:
    get = other.compile()
    if op == "==":

        def is_null(scope: Scope) -> bool:
            return get(scope) is None

        return is_null

    def is_not_null(scope: Scope) -> bool:
        return get(scope) is not None

    return is_not_null


class _Never:
    """A type no value has: the unused slot of a fast path."""


def _fast_paths(constant: Any) -> tuple[type, Any, type, Any]:
    """Up to two (value type, comparable constant) pairs that Python compares correctly."""
    kind = type(constant)
    if kind is int or kind is float:
        return kind, constant, (float if kind is int else int), constant
    if kind is Decimal and constant.is_finite():
        # A float meets a decimal through its shortest text; when the decimal is itself the
        # shortest text of a float, comparing with that float gives the same answer.
        as_float = float(constant)
        if Decimal(repr(as_float)) == constant:
            return int, constant, float, as_float
        return int, constant, _Never, None
    if kind in _PLAIN:
        return kind, constant, _Never, None
    return _Never, None, _Never, None


def _compare_constant(op: str, get: _Fn, constant: Any, offset: int) -> _Fn:
    """The common case ``customer.x OP literal``, with fast paths for the literal's type."""
    kind, fast, other_kind, other_fast = _fast_paths(constant)
    if op in ("==", "!="):
        equal = op == "=="

        def equality(scope: Scope) -> bool:
            value = get(scope)
            if type(value) is kind:
                return bool(value == fast) == equal
            if value is None:
                return False
            if type(value) is other_kind:
                return bool(value == other_fast) == equal
            return _equal(value, constant) == equal

        return equality
    compare = _ORDER[op]

    def order(scope: Scope) -> bool:
        value = get(scope)
        if type(value) is kind:
            return bool(compare(value, fast))
        if value is None:
            return False
        if type(value) is other_kind:
            return bool(compare(value, other_fast))
        return _order(op, value, constant, offset)

    return order


@dataclass(eq=False)
class _Member(_Node):
    negated: bool
    item: _Node
    container: _Node
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.item, self.container)

    def compile(self) -> _Fn:
        negated, offset = self.negated, self.offset
        get_item = self.item.compile()
        values = self.container.value if isinstance(self.container, _Const) else None
        if isinstance(values, tuple) and values and all(type(v) is str for v in values):
            words = frozenset(values)

            def in_words(scope: Scope) -> bool:
                item = get_item(scope)
                if type(item) is str:
                    return (item in words) != negated
                if item is None:
                    return False
                return _contains(values, item, offset) != negated

            return in_words
        get_container = self.container.compile()

        def membership(scope: Scope) -> bool:
            item, container = get_item(scope), get_container(scope)
            if item is None or container is None:
                return False
            return _contains(container, item, offset) != negated

        return membership


@dataclass(eq=False)
class _Call(_Node):
    name: str
    argument: _Node
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return (self.argument,)

    def is_constant(self) -> bool:
        return self.name not in _CLOCK_FUNCTIONS and isinstance(self.argument, _Const)

    def compile(self) -> _Fn:
        name, function, offset = self.name, _FUNCTIONS[self.name], self.offset
        get = self.argument.compile()

        def call(scope: Scope) -> Any:
            value = get(scope)
            try:
                return function(value, scope, offset)
            except (OverflowError, ValueError) as exc:
                message = f"{name}() cannot work with {_describe(value)}: it is out of range"
                raise ExpressionError(message, offset) from exc

        return call


@dataclass(eq=False)
class _List(_Node):
    items: tuple[_Node, ...]
    offset: int

    def children(self) -> tuple[_Node, ...]:
        return self.items

    def compile(self) -> _Fn:
        getters = tuple(item.compile() for item in self.items)

        def make_list(scope: Scope) -> tuple[Any, ...]:
            return tuple([get(scope) for get in getters])

        return make_list
