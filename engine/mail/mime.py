"""MIME messages for composed mails, built with the standard library's ``compat32`` API: the
``email.policy.default`` API parses every header it is given and makes a class per header, which
cost more than everything else in composing a mail. Bodies are UTF-8 quoted-printable (safe for
any line length), headers are RFC 2047-encoded when they are not ASCII."""

from __future__ import annotations

from collections.abc import Sequence
from email import policy
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, getaddresses
from functools import lru_cache

ADDRESS_HEADERS = frozenset({"from", "to", "reply-to", "cc"})
# long headers (List-Unsubscribe URLs) stay on one line, as RFC 5322 allows up to 998
FILE_POLICY = policy.compat32.clone(max_line_length=998)
SMTP_POLICY = FILE_POLICY.clone(linesep="\r\n")
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP


@lru_cache(maxsize=1024)  # the sender is the same in every mail of a batch
def addresses(value: str) -> str:
    """An address list with display names encoded; ``ValueError`` for a non-ASCII address
    (servers need SMTPUTF8 for those, which sluis does not use)."""
    found = getaddresses([value])
    for _name, address in found:
        if not address.isascii():
            raise ValueError(f"'{address}' is not an ASCII address")
    return ", ".join(formataddr(pair, charset="utf-8") for pair in found)


def _text(body: str, subtype: str) -> MIMEText:
    part = MIMEText(body, subtype, _UTF8)  # type: ignore[arg-type]
    return part


def encode_headers(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` as they go into the message: addresses and non-ASCII text encoded;
    ``ValueError`` for a non-ASCII address."""
    encoded = []
    for name, value in headers:
        if name.lower() in ADDRESS_HEADERS:
            encoded.append((name, addresses(value)))
        elif value.isascii():
            encoded.append((name, value))
        else:
            encoded.append((name, Header(value, "utf-8", header_name=name).encode()))
    return encoded


def check_headers(headers: Sequence[tuple[str, str]]) -> None:
    """The ``ValueError`` ``encode_headers`` would raise, at the cost of the non-ASCII headers
    only (an ASCII header always encodes)."""
    encode_headers([(name, value) for name, value in headers if not value.isascii()])


def build(headers: Sequence[tuple[str, str]], text: str, html: str | None) -> Message:
    """A message with ``headers`` (in order, encoded here) and a text part, plus an HTML
    alternative."""
    message: Message
    if html is None:
        message = _text(text, "plain")
    else:
        message = MIMEMultipart("alternative")
        for part in (_text(text, "plain"), _text(html, "html")):
            del part["MIME-Version"]
            message.attach(part)
    for name, value in encode_headers(headers):
        message[name] = value
    return message


def as_bytes(message: Message, *, smtp: bool = False) -> bytes:
    """The message as bytes: CRLF line ends for SMTP, LF for files."""
    return message.as_bytes(policy=SMTP_POLICY if smtp else FILE_POLICY)
