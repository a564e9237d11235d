"""Routes that declare who may call them, in the spirit of Starlette's ``requires``.

Every route of the app says what it needs, next to its path::

    Route("/api/scores/{score_id}", delete_score, methods=["DELETE"], role="owner")

and the gate (:mod:`collab_server.security.gate`) reads the declared role of the route a
request reaches (:func:`required`); ``tests/collab_server/test_routes.py`` fails for a
route that declares none. The roles:

- ``public``: no credentials needed (a token, if sent, is still checked);
- ``token``: any valid token, a share link's included;
- ``authenticated``: a user account's token (share links are refused);
- ``viewer``, ``editor``, ``owner``: at least that role on the path's ``{score_id}``.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from starlette import routing
from starlette.types import Scope

Need = Literal["public", "token", "authenticated", "viewer", "editor", "owner"]
NEEDS: tuple[str, ...] = get_args(Need)
SCORE_ROLES = frozenset({"viewer", "editor", "owner"})


class Route(routing.Route):
    """A Starlette ``Route`` with the role it needs."""

    def __init__(self, path: str, endpoint: Any, *, role: Need, **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        self.role = _checked(role, path)


class WebSocketRoute(routing.WebSocketRoute):
    """A Starlette ``WebSocketRoute`` with the role it needs."""

    def __init__(self, path: str, endpoint: Any, *, role: Need, **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        self.role = _checked(role, path)


class Mount(routing.Mount):
    """A Starlette ``Mount`` whose role covers everything under it."""

    def __init__(self, path: str, app: Any = None, *, role: Need, **options: Any) -> None:
        super().__init__(path, app, **options)
        self.role = _checked(role, path)


def declared_role(route: routing.BaseRoute) -> Need | None:
    """The role ``route`` declares, or ``None`` for a plain Starlette route."""
    role = getattr(route, "role", None)
    return role if role in NEEDS else None


def required(scope: Scope) -> tuple[Need | None, dict[str, Any]]:
    """The role the route ``scope`` reaches declares, with the path parameters.

    A path no route serves needs ``authenticated`` under ``/api`` (so probing for routes
    needs a token) and ``public`` elsewhere; a path served for other methods only takes
    the role of its first route (the router answers 405). ``None``: the route declares
    nothing, and the gate refuses it to everyone (a forgotten declaration fails closed).
    """
    partial: tuple[Need | None, dict[str, Any]] | None = None
    for route in scope["app"].routes:
        match, child = route.matches(scope)
        if match is routing.Match.NONE:
            continue
        found = (declared_role(route), child.get("path_params", {}))
        if match is routing.Match.FULL:
            return found
        partial = partial or found
    if partial is not None:
        return partial
    return ("authenticated" if scope.get("path", "").startswith("/api") else "public"), {}


def _checked(role: str, path: str) -> Need:
    if role not in NEEDS:
        raise ValueError(f"route {path}: role must be one of {', '.join(NEEDS)}")
    if role in SCORE_ROLES and "{score_id}" not in path:
        raise ValueError(f"route {path}: the {role} role needs a {{score_id}} in the path")
    return role  # type: ignore[return-value]
