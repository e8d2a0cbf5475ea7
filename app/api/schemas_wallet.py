"""Passkeys and saved cards in the API (app/api/passkeys.py, app/api/cards.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class CeremonyOut(BaseModel):
    ceremony: str = Field(description="Send it back with the credential; works once, 5 minutes.")
    options: dict[str, Any] = Field(
        description="WebAuthn options as JSON (binary fields base64url): "
        "PublicKeyCredentialCreationOptionsJSON to add a passkey, "
        "PublicKeyCredentialRequestOptionsJSON to sign in."
    )


class PasskeyOptionsIn(BaseModel):
    password: str = Field(
        min_length=1, max_length=1024, description="The account's password, asked again."
    )


class PasskeyIn(BaseModel):
    ceremony: str = Field(min_length=1, max_length=128)
    credential: dict[str, Any] = Field(
        description="The platform's RegistrationResponseJSON (the new credential as JSON)."
    )
    name: str = Field(
        default="", max_length=64, description="To recognise it by; 'Passkey' if empty."
    )


class PasskeySignInIn(BaseModel):
    ceremony: str = Field(min_length=1, max_length=128)
    credential: dict[str, Any] = Field(
        description="The platform's AuthenticationResponseJSON (the assertion as JSON)."
    )


class PasskeyOut(BaseModel):
    id: int
    name: str
    synced: bool = Field(
        description="Backed up by the platform (iCloud, Google): a passkey proper."
    )
    created_at: datetime
    last_used_at: datetime | None


class PasskeyListOut(BaseModel):
    items: list[PasskeyOut]
    max_passkeys: int


class SavedCardOut(BaseModel):
    id: str = Field(description="The payment provider's id of the card (pm_…).")
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class SavedCardListOut(BaseModel):
    items: list[SavedCardOut]
