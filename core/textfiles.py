"""The text of a plain-text or Markdown file, in the encoding its editor saved it in.

Shared by the worker, which reads a document into the prompt (worker/extraction.py), and /v1, which
refuses a document the worker could not read before storing it (api/compat/uploads.py), so both
take the same files. Tried in order:
- a byte order mark says the encoding: UTF-8 (the mark is left out of the text), UTF-16 or UTF-32
  either way round (Windows Notepad's "Unicode");
- UTF-8 (with no NUL in it but trailing ones, left out: zeros in it, as UTF-16 without its mark
  has, are not text);
- a region's legacy encoding, what its Windows saves as "ANSI" and its older editors and exports
  keep: GB18030 (the superset of GBK and GB2312, mainland China), Big5 (CP950: Taiwan, Hong Kong),
  Shift-JIS (CP932) or EUC-JP (Japan), EUC-KR (CP949: Korea), Windows-1252 (Western Europe).
  Most CJK bytes decode in several of them (a Korean file is valid GBK, as Chinese mojibake), so
  charset-normalizer (a dependency of requests; well kept, no hand-written heuristics here) measures
  how much of a mess each reading is, and the least messy one that decodes strictly and reads as
  text wins (no control character but a tab, a line or page break, none private-use or unassigned),
  ties in the order above: on a few characters nothing tells them apart, and this is a Chinese
  service.
Anything else (UTF-16 without a mark, Windows-1251 and the other single-byte code pages, binary
junk) is None: the caller refuses it as unreadable rather than send the model mojibake.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

_MARKS = (  # UTF-32's marks start with UTF-16's: looked for first
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
LEGACY = ("gb18030", "cp950", "cp932", "euc_jp", "cp949", "cp1252")  # ties go to the first
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
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        return _legacy(blob)
    text = text.rstrip("\x00")  # a file preallocated, or cut short by a crash, ends in zeros
    return None if "\x00" in text else text


def _legacy(blob: bytes) -> str | None:
    rank = {encoding: n for n, encoding in enumerate(LEGACY)}
    readings = sorted(
        from_bytes(blob, cp_isolation=list(LEGACY), threshold=1.0), key=lambda m: (m.chaos, rank.get(m.encoding, 99))
    )
    for reading in readings:
        try:
            text = blob.decode(reading.encoding)  # strictly, and whole: charset-normalizer samples a long file
        except UnicodeDecodeError:
            continue
        if not _NOT_TEXT.search(text):
            return text
    return None
