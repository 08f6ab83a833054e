"""Generated institution logos: a rounded square in the brand colour with two initials.

The mock serves these instead of the real (remote, trademarked) logos, so every page works
offline. The SVG is self-contained: no fonts, images or stylesheets are fetched.
"""

from __future__ import annotations

import re
import unicodedata
from xml.sax.saxutils import escape, quoteattr

_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_STOPWORDS = {"de", "da", "do", "das", "dos", "e", "&", "-", "s.a.", "sa", "ltda", "ltda."}
_FALLBACK = "#4B5563"
_DARK_TEXT = "#111827"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans', sans-serif"


def normalise_color(color: str) -> str:
    """'#abc', 'abc', '#AABBCC' -> '#AABBCC'; anything else -> a neutral grey."""
    m = _HEX.match((color or "").strip())
    if not m:
        return _FALLBACK
    value = m.group(1)
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    return "#" + value.upper()


def _luminance(color: str) -> float:
    """WCAG 2.x relative luminance of '#RRGGBB'."""

    def channel(i: int) -> float:
        c = int(color[i : i + 2], 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)


def text_color_for(color: str) -> str:
    """White or near-black, whichever contrasts more with the background colour."""
    lum = _luminance(normalise_color(color))
    dark_lum = _luminance(_DARK_TEXT)
    contrast_white = 1.05 / (lum + 0.05)
    contrast_dark = (lum + 0.05) / (dark_lum + 0.05)
    return "#FFFFFF" if contrast_white >= contrast_dark else _DARK_TEXT


def initials(name: str) -> str:
    """Two letters for a logo: 'Banco do Brasil' -> 'BB', 'Nubank' -> 'NU', 'C6 Bank' -> 'C6'."""
    words = [w for w in re.split(r"\s+", (name or "").strip()) if w]
    significant = [w for w in words if w.lower() not in _STOPWORDS]
    for w in significant:  # a short acronym (XP, C6, BV, BTG, BRB) is the brand itself
        core = re.sub(r"[^0-9A-Za-z]", "", w)
        if 2 <= len(core) <= 3 and core == core.upper() and core == w:
            return core[:2]
    letters = [re.sub(r"[^\w]", "", w, flags=re.UNICODE) for w in significant]
    letters = [w for w in letters if w]
    if len(letters) >= 2:
        result = letters[0][0] + letters[1][0]
    elif letters:
        result = letters[0][:2]
    else:
        result = "?"
    return unicodedata.normalize("NFC", result).upper()


def logo_svg(name: str, color: str) -> str:
    """A 64x64 self-contained SVG logo for an institution."""
    bg = normalise_color(color)
    fg = text_color_for(bg)
    text = escape(initials(name))
    title = escape(name or "")
    font_size = 26 if len(text) <= 2 else 22
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64" '
        f'role="img" aria-label={quoteattr(name or "")}>'
        f"<title>{title}</title>"
        f'<rect width="64" height="64" rx="14" ry="14" fill="{bg}"/>'
        f'<text x="32" y="32" dy="0.35em" text-anchor="middle" fill="{fg}" '
        f'font-family={quoteattr(_FONT)} font-size="{font_size}" font-weight="700" '
        f'letter-spacing="-0.5">{text}</text>'
        "</svg>"
    )
