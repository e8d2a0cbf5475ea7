"""API refresh tokens. Only a SHA-256 hash of each token is stored.

Every login starts a *family*; each refresh rotates the token within its family. Revoking a
family (logout, reuse of a spent token, password change) ends its refresh tokens and, because
access tokens carry the family id, its access tokens too.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = (
        sa.Index("ix_api_tokens_family_revoked", "family_id", "revoked_at"),
        sa.Index("ix_api_tokens_user_revoked", "user_id", "revoked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[str] = mapped_column(sa.String(32))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} user={self.user_id} family={self.family_id[:6]}>"
