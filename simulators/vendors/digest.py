"""Server side of HTTP digest authentication (RFC 7616: MD5 and SHA-256, qop=auth)."""

from __future__ import annotations

import hashlib
import re
import secrets

_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')
_HASH = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def _h(algorithm: str, text: str) -> str:
    return _HASH[algorithm](text.encode()).hexdigest()


class DigestServer:
    """Issues challenges and verifies answers for one realm and one account."""

    def __init__(self, realm: str, username: str, password: str, algorithm: str = "MD5") -> None:
        if algorithm not in _HASH:
            raise ValueError(f"unsupported digest algorithm {algorithm}")
        self.realm, self.username, self.password = realm, username, password
        self.algorithm = algorithm
        self.nonces: set[str] = set()

    def challenge(self) -> str:
        """A WWW-Authenticate header value with a fresh nonce."""
        nonce = secrets.token_hex(16)
        self.nonces.add(nonce)
        if len(self.nonces) > 10_000:
            self.nonces = {nonce}
        return (
            f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", '
            f'opaque="{secrets.token_hex(8)}", algorithm={self.algorithm}, stale=FALSE'
        )

    def verify(self, method: str, header: str | None) -> bool:
        """True when the Authorization header answers one of our challenges correctly."""
        if not header or not header.lower().startswith("digest "):
            return False
        params = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PARAM.finditer(header[7:])
        }
        if params.get("username") != self.username or params.get("nonce") not in self.nonces:
            return False
        if params.get("algorithm", "MD5").upper() != self.algorithm:
            return False
        ha1 = _h(self.algorithm, f"{self.username}:{self.realm}:{self.password}")
        ha2 = _h(self.algorithm, f"{method}:{params.get('uri', '')}")
        if params.get("qop"):
            expect = _h(
                self.algorithm,
                f"{ha1}:{params['nonce']}:{params.get('nc', '')}:"
                f"{params.get('cnonce', '')}:{params['qop']}:{ha2}",
            )
        else:
            expect = _h(self.algorithm, f"{ha1}:{params['nonce']}:{ha2}")
        return secrets.compare_digest(expect, params.get("response", ""))
