"""Text that is stored: no control characters.

A title of ``"\\u0000"`` used to be accepted and kept: NUL bytes break PostgreSQL text
columns and C tools, terminal escapes reach operators' logs and terminals, and bidi
overrides make a name read differently from what it is. One rule for every stored text
(titles, composers, part names, lyrics, tempo texts, chat, comments, version and token
names):

- removed: C0 and C1 control characters and DEL (categories ``Cc``), lone surrogates,
  and the bidi embedding, override and isolate characters (U+202A-U+202E,
  U+2066-U+2069);
- kept in multi-line text (chat, comments): tab and line feed; a carriage return becomes
  a line feed. In one-line text (names, titles, lyrics) tab, CR and LF become a space.

:func:`clean_text` strips (writers and readers of the document use it, so a client that
writes control characters into the Yjs document is never echoed by exports, analyses or
REST); :func:`control_characters` finds them, for callers that refuse instead (account
names).
"""

from __future__ import annotations

import re

_ALWAYS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_REMOVE = re.compile(f"[{_ALWAYS}]")
_BREAKS = re.compile("\r\n?|[\t\n]")
_ONE_LINE = re.compile(f"[{_ALWAYS}\t\n\r]")
_MULTI_LINE = re.compile(f"[{_ALWAYS}\r]")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """``value`` without control characters (see the module's rule)."""
    if multiline:
        if not _MULTI_LINE.search(value):
            return value
        return _REMOVE.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    if not _ONE_LINE.search(value):
        return value
    return _REMOVE.sub("", _BREAKS.sub(" ", value))


def control_characters(value: str, *, multiline: bool = False) -> list[str]:
    """The control characters in ``value`` that :func:`clean_text` would change, as
    ``U+XXXX`` (for error messages)."""
    pattern = _MULTI_LINE if multiline else _ONE_LINE
    return sorted({f"U+{ord(char):04X}" for char in pattern.findall(value)})
