"""A software WebAuthn authenticator for tests of the server side: it answers the options
the shop sends exactly as a browser and a platform authenticator would (packed "none"
attestation, an ES256 key, the user-verified flag), so ``webauthn`` checks real signatures.
The browser tests use Chromium's own virtual authenticator instead."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftAuthenticator:
    def __init__(self, rp_id: str = "localhost", origin: str = "http://localhost") -> None:
        self.rp_id, self.origin = rp_id, origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.sign_count = 0
        self.user_handle = b""

    @property
    def id(self) -> str:
        return b64u(self.credential_id)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        ).encode()

    def _rp_hash(self) -> bytes:
        return hashlib.sha256(self.rp_id.encode()).digest()

    def create(self, options: str | dict[str, Any], *, origin: str | None = None) -> dict:
        o = json.loads(options) if isinstance(options, str) else options
        assert o["rp"]["id"] == self.rp_id, o["rp"]
        self.user_handle = base64.urlsafe_b64decode(o["user"]["id"] + "==")
        numbers = self.key.public_key().public_numbers()
        cose = {
            1: 2,
            3: -7,
            -1: 1,
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
        attested = bytes(16) + len(self.credential_id).to_bytes(2, "big") + self.credential_id
        auth_data = (
            self._rp_hash()
            + bytes([UP | UV | AT])
            + self.sign_count.to_bytes(4, "big")
            + attested
            + cbor2.dumps(cose)
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64u(
                    self._client_data("webauthn.create", o["challenge"], origin)
                ),
                "attestationObject": b64u(attestation),
                "transports": ["internal"],
            },
        }

    def get(
        self, options: str | dict[str, Any], *, origin: str | None = None, verified: bool = True
    ) -> dict:
        o = json.loads(options) if isinstance(options, str) else options
        self.sign_count += 1
        auth_data = (
            self._rp_hash()
            + bytes([UP | (UV if verified else 0)])
            + self.sign_count.to_bytes(4, "big")
        )
        client_data = self._client_data("webauthn.get", o["challenge"], origin)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": self.id,
            "rawId": self.id,
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64u(client_data),
                "authenticatorData": b64u(auth_data),
                "signature": b64u(signature),
                "userHandle": b64u(self.user_handle) if self.user_handle else None,
            },
        }
