"""``Expression``: parse, check and compile once; evaluate for each customer."""

from __future__ import annotations

from typing import Any

from engine.errors import ExpressionError
from engine.model.expressions.lexer import _tokenize
from engine.model.expressions.nodes import _Node
from engine.model.expressions.parser import Reference, _Parser
from engine.model.expressions.values import Scope, _describe, _Fn

MAX_LENGTH = 10_000


class Expression:
    """A parsed, checked and compiled expression; equal to another with the same source."""

    __slots__ = ("_fn", "_references", "_tree", "source")

    source: str
    _fn: _Fn
    _references: tuple[Reference, ...]
    _tree: _Node

    def __init__(self, source: str) -> None:
        if not isinstance(source, str):
            raise ExpressionError(f"an expression must be text, not {_describe(source)}")
        if len(source) > MAX_LENGTH:
            message = (
                f"expression is too long ({len(source):,} characters; at most {MAX_LENGTH:,}); "
                "split it into simpler conditions"
            )
            raise ExpressionError(message, MAX_LENGTH)
        parser = _Parser(_tokenize(source))
        self.source = source
        self._tree = parser.parse()
        self._fn = self._tree.compile()
        self._references = tuple(parser.references)

    @classmethod
    def parse(cls, source: str) -> Expression:
        """Parse and check ``source``; raises ExpressionError with the offset of the problem."""
        return cls(source)

    @property
    def references(self) -> tuple[Reference, ...]:
        """Every ``customer``, ``data``, ``now`` and ``today`` reference, in source order."""
        return self._references

    @property
    def tree(self) -> _Node:
        """The checked, folded tree (nodes in ``engine.model.expressions.tree``), for
        compilers such as the SQL one in ``engine.store.sqlexpr``."""
        return self._tree

    def evaluate(self, scope: Scope) -> Any:
        """The value for ``scope`` (keys ``customer``, ``data``, ``now``, ``today``)."""
        try:
            return self._fn(scope)
        except ExpressionError:
            raise
        except Exception as exc:
            raise self._failure(exc) from exc

    def test(self, scope: Scope) -> bool:
        """Whether the value for ``scope`` is true (null is false)."""
        try:
            return bool(self._fn(scope))
        except ExpressionError:
            raise
        except Exception as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc: Exception) -> ExpressionError:
        if isinstance(exc, RecursionError):
            return ExpressionError(f"the values are nested too deeply to evaluate {self.source!r}")
        name = type(exc).__name__
        return ExpressionError(
            f"could not evaluate {self.source!r}: internal error ({name}: {exc})"
        )

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expression):
            return NotImplemented
        return self.source == other.source

    def __hash__(self) -> int:
        return hash(self.source)

    def __reduce__(self) -> tuple[type[Expression], tuple[str]]:
        return (Expression, (self.source,))
