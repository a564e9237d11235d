"""Personas as data: one TOML file per agent in this folder (name, colour, voice, what it
may do). A new persona needs a file, no code."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
#: What a persona may do; ``write`` abilities make a task a writing task.
ABILITIES = frozenset(
    {"analyse", "explain", "harmonise", "continue", "bass", "countermelody", "revoice", "transpose"}
)
WRITING = frozenset({"harmonise", "continue", "bass", "countermelody", "revoice", "transpose"})


class UnknownPersona(KeyError):
    """No persona of that name."""


@dataclass(frozen=True, slots=True)
class Persona:
    """An agent's identity: ``name`` (what people @mention), display name, colour, role,
    voice (how it speaks) and abilities."""

    name: str
    display_name: str
    color: str
    role: str
    voice: str
    abilities: frozenset[str]
    default_ability: str

    @property
    def writes(self) -> bool:
        return bool(self.abilities & WRITING)

    @classmethod
    def from_toml(cls, text: str) -> Persona:
        raw = tomllib.loads(text)
        abilities = frozenset(raw["abilities"])
        unknown = abilities - ABILITIES
        if unknown:
            raise ValueError(f"unknown abilities {sorted(unknown)}")
        default = raw.get("default_ability", sorted(abilities)[0])
        if default not in abilities:
            raise ValueError(f"default ability {default!r} is not one of its abilities")
        name = str(raw["name"])
        if not name.isidentifier() or name != name.lower():
            raise ValueError(f"persona name {name!r} must be a lower-case word")
        return cls(
            name,
            str(raw.get("display_name", name)),
            str(raw["color"]),
            str(raw["role"]),
            str(raw["voice"]).strip(),
            abilities,
            default,
        )


def load_personas(folder: Path = HERE) -> Mapping[str, Persona]:
    """Every ``*.toml`` persona in ``folder``, by name."""
    personas = {}
    for path in sorted(folder.glob("*.toml")):
        persona = Persona.from_toml(path.read_text(encoding="utf-8"))
        personas[persona.name] = persona
    return personas


def get_persona(name: str, personas: Mapping[str, Persona] | None = None) -> Persona:
    table = load_personas() if personas is None else personas
    try:
        return table[name.lower().lstrip("@")]
    except KeyError:
        raise UnknownPersona(name) from None
