"""Expressions for ``where``, ``when``, split branches and ``until`` (DESIGN.md section 7).

An expression such as ``customer.country == "NL" and days_since(customer.joined) < 30`` is parsed
once (a hand-written tokenizer and a Pratt parser; never Python ``eval``) into a small tree that
is checked (unknown names and functions, arity, nesting), folded where it is constant, and
compiled into nested closures, so evaluating it for each of 100,000s of customers is cheap.

Rules that are easy to get wrong, decided here:

* A missing field, or a path through something that is not a record, is ``null``.
* A comparison (``== != < <= > >=``) or membership test (``in``, ``not in``) that meets ``null``
  on either side is false, as in SQL: when the country is missing, ``customer.country != "NL"``
  and ``customer.country not in ["NL"]`` are both false. The exception is comparing with a
  constant ``null``: ``x == null`` is true exactly when ``x`` is null, ``x != null`` exactly
  when it is not. ``exists(x)`` is true when ``x`` is neither null nor empty text.
* ``and``, ``or`` and ``not`` use truthiness (null, false, 0, "" and [] are false) and always give
  ``true`` or ``false``.
* Arithmetic with ``null`` gives ``null``, and so does dividing by zero. Whole numbers divide to a
  whole number when exact and to an exact decimal otherwise (``7 / 2`` is ``3.5``).
* Numbers compare by value whatever their Python type; a float meets a decimal through its
  shortest text, so ``1.1`` equals ``Decimal("1.1")``. ``true`` is not the number 1.
* A date meeting a date-time stands for midnight in the date-time's time zone; a naive date-time
  meeting an aware one is taken as UTC; text meeting a date or date-time is read as ISO 8601.
  Ordering values that have no order (``"a" < 3``) raises ``ExpressionError``; such values are
  simply not equal.
* Lists evaluate to tuples.
"""

from engine.model.expressions.expression import MAX_LENGTH, Expression
from engine.model.expressions.functions import FUNCTIONS
from engine.model.expressions.parser import MAX_DEPTH, ROOT_NAMES, Reference

__all__ = ["FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "ROOT_NAMES", "Expression", "Reference"]
