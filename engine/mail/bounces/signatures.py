"""Checking that a provider notification comes from the provider: Amazon SNS message
signatures (RSA over the canonical fields, the certificate from an https amazonaws.com URL),
SendGrid's signed Event Webhook (ECDSA P-256 over timestamp + body), Mailgun's webhook
signature (HMAC-SHA256 of timestamp + token) and Postmark's basic-auth credentials or token.

Where the SNS certificate comes from is a small interface: ``HttpsCertificates`` fetches it
(and keeps it), ``FolderCertificates`` reads trusted PEM files from a folder, for hosts without
outside network and for tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from engine.errors import SluisError

SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")
_NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SUBSCRIPTION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


class SignatureError(SluisError):
    """A notification whose signature or credentials do not check out."""


class MissingSignature(SignatureError):
    """A notification without the signature or credentials it needs."""


class Certificates(Protocol):
    def pem(self, url: str) -> bytes:
        """The PEM certificate published at ``url`` (already checked to be an SNS URL)."""
        ...


class FolderCertificates:
    """Trusted certificates in a folder, named as the last part of their SNS URL."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def pem(self, url: str) -> bytes:
        name = Path(urlsplit(url).path).name
        path = self.folder / name
        if not name or not path.is_file():
            raise SignatureError(f"no trusted certificate {name!r} in {self.folder}")
        return path.read_bytes()


class HttpsCertificates:
    """Certificates fetched from their https URL, kept for the life of the process."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}

    def pem(self, url: str) -> bytes:
        if url not in self.kept:
            import httpx

            try:
                answer = httpx.get(url, timeout=10.0, follow_redirects=False)
                answer.raise_for_status()
            except httpx.HTTPError as exc:
                raise SignatureError(f"cannot fetch the signing certificate {url}: {exc}") from None
            self.kept[url] = answer.content
        return self.kept[url]


def check_sns(body: dict[str, Any], certificates: Certificates) -> None:
    """Raise ``SignatureError`` unless ``body`` is an SNS message signed by Amazon."""
    url = str(body.get("SigningCertURL") or body.get("SigningCertUrl") or "")
    parts = urlsplit(url)
    if parts.scheme != "https" or not SNS_HOST.match(parts.hostname or ""):
        raise SignatureError(
            f"SigningCertURL {url!r} is not an https URL on an sns.*.amazonaws.com host"
        )
    version = str(body.get("SignatureVersion", ""))
    if version not in ("1", "2"):
        raise SignatureError(f"unknown SignatureVersion {version!r} (expected 1 or 2)")
    fields = _SUBSCRIPTION if "Confirmation" in str(body.get("Type", "")) else _NOTIFICATION
    text = "".join(f"{k}\n{body[k]}\n" for k in fields if body.get(k) is not None)
    signature = _b64(str(body.get("Signature", "")), "Signature")
    try:
        key = x509.load_pem_x509_certificate(certificates.pem(url)).public_key()
    except ValueError:
        raise SignatureError(f"the certificate at {url} is not a PEM certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError(f"the certificate at {url} has no RSA key")
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    try:
        key.verify(signature, text.encode(), padding.PKCS1v15(), digest)
    except InvalidSignature:
        raise SignatureError("the SNS signature does not match the message") from None


def check_sendgrid(public_key: str, signature: str, timestamp: str, body: bytes) -> None:
    """Raise ``SignatureError`` unless SendGrid signed ``timestamp + body``."""
    if not signature or not timestamp:
        raise MissingSignature(
            "missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp header"
        )
    try:
        if "BEGIN" in public_key:
            key = serialization.load_pem_public_key(public_key.encode())
        else:
            key = serialization.load_der_public_key(_b64(public_key, "the SendGrid public key"))
    except ValueError:
        raise SignatureError("mail.providers.sendgrid.public_key is not a public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureError("mail.providers.sendgrid.public_key is not an ECDSA key")
    try:
        key.verify(
            _b64(signature, "the signature"), timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        raise SignatureError("the SendGrid signature does not match the body") from None


def check_mailgun(signing_key: str, signature: dict[str, Any]) -> None:
    """Raise ``SignatureError`` unless ``signature`` (timestamp, token, signature) is Mailgun's."""
    timestamp, token = str(signature.get("timestamp", "")), str(signature.get("token", ""))
    given = str(signature.get("signature", ""))
    if not (timestamp and token and given):
        raise MissingSignature(
            "missing signature.timestamp, signature.token or signature.signature"
        )
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), given.lower()):
        raise SignatureError("the Mailgun signature does not match (check the signing key)")


def check_postmark(
    username: str | None, password: str | None, token: str | None, authorization: str, given: str
) -> None:
    """Raise ``SignatureError`` unless the call carries the configured basic-auth credentials
    (``authorization`` header) or ``token`` (``given``, from the URL)."""
    if token and given and hmac.compare_digest(token, given):
        return
    if username is not None and password is not None and authorization.lower().startswith("basic "):
        try:
            user, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise SignatureError("the Authorization header is not valid basic auth") from None
        if hmac.compare_digest(user, username) and hmac.compare_digest(secret, password):
            return
        raise SignatureError("wrong user name or password")
    raise MissingSignature("missing credentials: basic auth or ?token= as configured")


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not base64") from None
