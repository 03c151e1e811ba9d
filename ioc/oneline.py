"""Single-line text: the one home of what may not appear inside a name or a message line.

A name (device, site, commune, user) or a free text (a summary, a note) put into a plain-text
message (Telegram, e-mail subject and body, webhook text, Zalo, ...) must stay on its own line:
a newline followed by a fake "Chi tiết: https://..." line would read as the product's own.
Unsafe are the C0/C1 control characters (newline, carriage return, tab, escape, ...), the
Unicode line and paragraph separators, and the bidirectional controls that reorder what a
reader sees (Trojan Source). Import refuses names holding them (``check_one_line``); every
plain-text channel renders free text through ``one_line``, which makes what slipped in harmless.
"""

from __future__ import annotations

import re
import unicodedata

# Bidirectional embeddings, overrides and isolates, and the implicit direction marks.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# Characters that end a line somewhere (Python's str.splitlines breaks on all of these).
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")
_BREAKS = re.compile(f"[\t{LINE_BREAKS}]+")


def unsafe_chars(text: str) -> list[str]:
    """The distinct unsafe characters in ``text``, as ``U+000A`` codes, in order of appearance."""
    seen: list[str] = []
    for ch in _UNSAFE.findall(text):
        code = f"U+{ord(ch):04X}"
        if code not in seen:
            seen.append(code)
    return seen


def one_line(text: str) -> str:
    """``text`` made safe for one line: breaks and tabs become one space, other controls go."""
    return _UNSAFE.sub("", _BREAKS.sub(" ", text))


def check_one_line(text: str) -> str:
    """``text`` if it is a single line without control characters; ValueError otherwise."""
    found = unsafe_chars(text)
    if found:
        names = ", ".join(f"{code} {_name(code)}" for code in found[:3])
        raise ValueError(
            f"must be a single line without control characters; found {names} "
            "(remove line breaks, tabs and direction marks)"
        )
    return text


def _name(code: str) -> str:
    ch = chr(int(code[2:], 16))
    return f"({unicodedata.name(ch, 'control character').lower()})"
