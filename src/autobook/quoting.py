"""Quote untrusted text inside a reason, a log line or a terminal: bounded and printable.

A reason may quote what the producer sent (an unknown key, a timezone, a garbage message), but
input is hostile: 1 MB values and thousands of keys once made a 27 MB status table, and an ESC
sequence in a key reached the terminal. `quote` keeps at most `limit` characters and escapes
everything that is not printable (control characters, NUL, lone surrogates, line breaks) the way
Python's `repr` would, so the result is safe to store in PostgreSQL, to encode as UTF-8 and to
print. `printable` does the escaping alone, for text that is already ours but may hold input.
"""

from __future__ import annotations

DEFAULT_QUOTE_CHARS = 80
ELLIPSIS = "…"


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _is_safe(char: str) -> bool:
    # isprintable() is False for controls, separators other than space, and unassigned or
    # private characters; surrogates are never printable either.
    return char.isprintable() and not 0xD800 <= ord(char) <= 0xDFFF


def printable(text: str) -> str:
    """`text` with every unprintable character escaped (`\\x1b`, `\\x00`, `\\ud83d`)."""
    if text.isprintable() and text.isascii():
        return text  # the common case, without a Python-level loop
    return "".join(char if _is_safe(char) else _escape(char) for char in text)


def quote(value: object, limit: int = DEFAULT_QUOTE_CHARS) -> str:
    """`value` as printable text of at most about `limit` characters, marked when cut."""
    text = value if isinstance(value, str) else _text_of(value)
    cut = len(text) > limit
    shown = printable(text[:limit])
    if len(shown) > limit:  # escapes lengthen the text
        shown, cut = shown[:limit], True
    if cut:
        return f"{shown}{ELLIPSIS} ({len(text)} characters)"
    return shown


def _text_of(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a hostile __repr__ must not stop a reason from being written
        return f"<{type(value).__name__}>"
