"""The node types of a parsed expression under public names, for code outside the package that
walks ``Expression.tree`` (the SQL compiler in ``engine.store.sqlexpr``). Read-only: nothing
outside the package builds or changes nodes."""

from engine.model.expressions.nodes import _Arith as Arith
from engine.model.expressions.nodes import _Call as Call
from engine.model.expressions.nodes import _Compare as Compare
from engine.model.expressions.nodes import _Const as Const
from engine.model.expressions.nodes import _List as List
from engine.model.expressions.nodes import _Logic as Logic
from engine.model.expressions.nodes import _Member as Member
from engine.model.expressions.nodes import _Neg as Neg
from engine.model.expressions.nodes import _Node as Node
from engine.model.expressions.nodes import _Not as Not
from engine.model.expressions.nodes import _Ref as Ref
from engine.model.expressions.recordnodes import _Aggregate as Aggregate
from engine.model.expressions.recordnodes import _Field as Field
from engine.model.expressions.recordnodes import _Pluck as Pluck
from engine.model.expressions.recordnodes import _Records as Records
from engine.model.expressions.recordnodes import _Where as Where

__all__ = [
    "Aggregate",
    "Arith",
    "Call",
    "Compare",
    "Const",
    "Field",
    "List",
    "Logic",
    "Member",
    "Neg",
    "Node",
    "Not",
    "Pluck",
    "Records",
    "Ref",
    "Where",
]
