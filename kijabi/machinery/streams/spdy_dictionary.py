"""The zlib dictionary that SPDY/3 header blocks are compressed with.

The SPDY/3 draft (section 2.6.10.1, "Compression") publishes it as 1423 bytes: 65 words, each written as a
4-byte big-endian length followed by the word, then a run of status codes, reason phrases, dates and common
header values with no length prefixes. Both ends of a SPDY connection must use exactly these bytes; zlib
checks it through the dictionary id (the Adler-32 of the dictionary, 0xe3c6a7c2) in each stream's header.
"""

from __future__ import annotations

import zlib

# The length-prefixed part: header names, methods and a few values, in the spec's order.
_WORDS: list[str] = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges "
    "age allow authorization cache-control connection content-base content-encoding content-language "
    "content-length content-location content-md5 content-range content-type date etag expect expires from "
    "host if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status 200_OK version "
    "HTTP/1.1 url public set-cookie keep-alive origin"
).split()
_WORDS = [w.replace("_", " ") for w in _WORDS]  # "200 OK" is one word

# The unprefixed tail, split only for readability (the pieces are concatenated without separators).
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information",
    "204 No Content",
    "301 Moved Permanently",
    "400 Bad Request",
    "401 Unauthorized",
    "403 Forbidden",
    "404 Not Found",
    "500 Internal Server Error",
    "501 Not Implemented",
    "503 Service Unavailable",
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,public",
    "private",
    "max-age=",
    "gzip,deflate,sdch",
    "charset=utf-8",
    "charset=iso-8859-1,utf-,*,enq=0.",
)


def _build() -> bytes:
    out = bytearray()
    for word in _WORDS:
        raw = word.encode("ascii")
        out += len(raw).to_bytes(4, "big") + raw
    out += "".join(_TAIL).encode("ascii")
    return bytes(out)


DICTIONARY: bytes = _build()
DICTIONARY_ID = 0xE3C6A7C2

assert len(DICTIONARY) == 1423 and zlib.adler32(DICTIONARY) == DICTIONARY_ID, "SPDY/3 dictionary is corrupt"
