"""The text of a plain-text or Markdown file, in the encoding its editor saved it in.

Shared by the worker, which reads a document into the prompt (worker/extraction.py), and /v1, which
refuses a document the worker could not read before storing it (api/compat/uploads.py), so both
take the same files. Tried in order:
- a byte order mark says the encoding: UTF-8 (the mark is left out of the text), UTF-16 or UTF-32
  either way round (Windows Notepad's "Unicode");
- UTF-8;
- GB18030, the superset of GBK and GB2312: what a Chinese Windows system saves as "ANSI" (Notepad
  before 2019, Excel's CSV and TXT exports), taken only when it reads as text: no control character
  but a tab, a line or page break (binary bytes mostly decode to some), none unassigned.
Anything else (Big5, Shift-JIS, Windows-1252 with accents, UTF-16 without a mark) is None: the
caller refuses it as unreadable rather than send the model mojibake.
"""

from __future__ import annotations

import codecs
import re

_MARKS = (  # UTF-32's marks start with UTF-16's: looked for first
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_NOT_TEXT = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ue000-\uf8ff\U000f0000-\U0010ffff]")


def decode_text(blob: bytes) -> str | None:
    """`blob` as text, or None when it is in none of the encodings above."""
    for mark, encoding in _MARKS:
        if blob.startswith(mark):
            try:
                return blob[len(mark) :].decode(encoding)
            except UnicodeDecodeError:
                return None
    try:
        return blob.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = blob.decode("gb18030")
    except UnicodeDecodeError:
        return None
    return None if _NOT_TEXT.search(text) else text
