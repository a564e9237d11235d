"""Account rules live in the authenticator, so the API and ``orpheus user add`` apply the
same ones: names, passwords, taken names; who may register and who may create admins."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from collab_server.cli.accounts import add_user
from collab_server.errors import BadRequest, Conflict, Forbidden, Unprocessable
from collab_server.security.authenticator import Authenticator, Identity
from persistence.accounts.memory import MemoryAccountStore


def _auth() -> Authenticator:
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return Authenticator(MemoryAccountStore(), secret="s" * 32, hasher=fast)


async def test_registration_rules() -> None:
    auth = _auth()
    admin, user = Identity(user_id="root", is_admin=True), Identity(user_id="ann")
    with pytest.raises(Forbidden, match="registration is closed"):
        await auth.register(
            "bob",
            "password-1",
            display_name=None,
            is_admin=False,
            caller=None,
            open_registration=False,
        )
    with pytest.raises(Forbidden, match="only an admin creates admins"):
        await auth.register(
            "bob",
            "password-1",
            display_name=None,
            is_admin=True,
            caller=user,
            open_registration=True,
        )
    bob = await auth.register(
        "bob",
        "password-1",
        display_name="Bob",
        is_admin=True,
        caller=admin,
        open_registration=False,
    )
    assert bob.is_admin and bob.display_name == "Bob"
    assert (await auth.login("bob", "password-1"))[0].id == "bob"
    carol = await auth.register(
        "carol",
        "password-1",
        display_name=None,
        is_admin=False,
        caller=None,
        open_registration=True,
    )
    assert carol.display_name == "carol" and not carol.is_admin


async def test_the_api_and_the_cli_refuse_the_same_accounts() -> None:
    auth = _auth()
    await auth.create_user("dora", "password-1")
    for name, password, error in (
        ("dora", "password-1", Conflict),
        ("no spaces", "password-1", Unprocessable),
        ("erin", "short", BadRequest),
    ):
        with pytest.raises(error) as refused:
            await auth.create_user(name, password)
        with pytest.raises(ValueError) as by_cli:
            await add_user(auth, name, password, admin=False)
        assert str(by_cli.value) == refused.value.message
