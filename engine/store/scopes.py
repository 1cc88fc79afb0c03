"""What a token may do: its scopes.

A scope is ``read`` or ``write`` for every resource, ``RESOURCE:read`` or ``RESOURCE:write``
for one (``customers``, ``datamodel``, ``groups``, ``flows``, ``mails``, ``webhooks``), or
``admin`` (users and tokens, and everything else). ``write`` includes ``read``. A token
without scopes (made before scopes existed) has ``read write``.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.errors import InputError

RESOURCES = ("customers", "datamodel", "groups", "flows", "mails", "webhooks")
LEVELS = ("read", "write")
DEFAULT = "read write"
KNOWN = frozenset(("admin", *LEVELS, *(f"{r}:{level}" for r in RESOURCES for level in LEVELS)))


def parse_scopes(given: Iterable[str]) -> str:
    """Scopes as stored (sorted, space-separated); ``InputError`` names an unknown one."""
    scopes = {part for text in given for part in text.replace(",", " ").split()}
    unknown = sorted(scopes - KNOWN)
    if unknown:
        raise InputError(
            f"unknown scope {', '.join(unknown)}; scopes are read, write, admin, or "
            f"RESOURCE:read / RESOURCE:write with RESOURCE one of {', '.join(RESOURCES)}"
        )
    if not scopes:
        raise InputError("give at least one scope, such as 'read' or 'customers:write'")
    return " ".join(sorted(scopes))


def allows(scopes: str | None, resource: str, write: bool) -> bool:
    """Whether a token with ``scopes`` may read (or write) ``resource`` (``admin`` for users
    and tokens)."""
    held = set((scopes or DEFAULT).split())
    if "admin" in held:
        return True
    if resource == "admin":
        return False
    wanted = ["write", f"{resource}:write"]
    if not write:
        wanted += ["read", f"{resource}:read"]
    return any(scope in held for scope in wanted)


def refusal(resource: str, write: bool) -> str:
    level = "write" if write else "read"
    if resource == "admin":
        return "this call needs a token with scope 'admin' ('sluis token create --scope admin')"
    return (
        f"this token may not {level} {resource}: it needs scope '{level}' or "
        f"'{resource}:{level}' ('sluis token create --scope {resource}:{level}')"
    )
