"""Frame-level JSON helpers for the market channel that work without the recursive decoder.

Only the parser's slow path uses them: a frame the typed decoder refused (too deep, or one bad
element in an array) is split into its top-level elements so the good ones still parse.
"""

from __future__ import annotations


def split_top_level_array(frame: bytes | str) -> list[bytes | str] | None:
    """The elements of a JSON array as raw slices, found by counting brackets outside strings
    (no recursion, so any depth works). ``None`` when the brackets do not balance. Slow (a Python
    loop per byte): only for frames the recursive decoder refused."""
    text = frame.decode("utf-8", "surrogateescape") if type(frame) is bytes else frame
    items: list[bytes | str] = []
    depth = 0
    in_str = esc = False
    start = -1  # where the current depth-1 element began
    for i, ch in enumerate(text):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
            if depth == 1 and start < 0:
                start = i
        elif ch == "[" or ch == "{":
            if depth == 1 and start < 0:
                start = i
            depth += 1
        elif ch == "]" or ch == "}":
            depth -= 1
            if depth == 0:
                if start >= 0:
                    items.append(text[start:i].rstrip())
                break
        elif depth == 1:
            if ch == ",":
                if start >= 0:
                    items.append(text[start:i].rstrip())
                    start = -1
            elif start < 0 and ch not in " \t\r\n":
                start = i
    if depth != 0:
        return None
    return [x.encode("utf-8", "surrogateescape") for x in items] if type(frame) is bytes else items
