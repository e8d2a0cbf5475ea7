"""Accounts as customers of the payment provider, and the cards they saved there.

* An account gets its Customer (Stripe ``cus_…``) at its first checkout, not before: most
  accounts never pay, and a Customer is personal data at Stripe. Guests stay anonymous
  (their sessions carry only the email they typed).
* One Customer per account, even when two checkouts of a new account run at once (two tabs,
  the app and the website): both send the same request under the same idempotency key, so
  Stripe makes one and answers both with it, and the first row stored wins.
* The Customer is kept in step with the account: a changed email or name is sent to the
  provider by a task after the change commits (:func:`account_changed`).
* Cards are saved only at the provider, only when the shopper ticks Checkout's own "save my
  payment details" box; the account page lists them (brand, last four, expiry) from the
  provider and removes them there. The shop stores no card data at all.

No transaction is open while the provider is asked anything.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from app.accounts.audit import audit
from app.accounts.models import AuditEvent, User
from app.db import affected, after_commit, commit_point, read_phase, upsert, utcnow
from app.extensions import db
from app.payments import provider
from app.payments.models import PaymentCustomer
from app.payments.types import PaymentError, PaymentRejected, PaymentsUnavailable, SavedCard

log = logging.getLogger(__name__)


FORGOTTEN = "payments.customer_forgotten"


def _key(user_id: int, email: str, name: str, replaces: str = "") -> str:
    """The idempotency key of an account's Customer: the same account asking with the same
    details gets the same Customer back; other details make a request of their own (Stripe
    refuses a key reused with other parameters). ``replaces``: the Customer this account
    had before, forgotten because the provider no longer knew it. Stripe answers a key with
    its first answer for 24 hours, even for a Customer deleted since, so a new one needs a
    key of its own (and a first Customer keeps the key it always had)."""
    named = f"{email}\x00{name}" + (f"\x00{replaces}" if replaces else "")
    digest = hashlib.sha256(named.encode()).hexdigest()[:16]
    return f"customer-{user_id}-{digest}"


def _last_forgotten(user_id: int) -> str:
    """The account's Customer most recently forgotten (:func:`forget_customer`), or ""."""
    return (
        db.session.execute(
            sa.select(AuditEvent.target)
            .where(AuditEvent.target_user_id == user_id, AuditEvent.action == FORGOTTEN)
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        or ""
    )


def realm() -> str:
    """Where the account's Customer lives: the sandbox, or Stripe in test or live mode (a
    test-mode Customer does not exist for live keys, nor the other way round)."""
    name = provider.provider_name()
    if name != "stripe":
        return name
    key = str(current_app.config.get("STRIPE_SECRET_KEY") or "")
    return "stripe-live" if key.startswith(("sk_live_", "rk_live_")) else "stripe-test"


def stored_customer(user_id: int) -> PaymentCustomer | None:
    return db.session.execute(
        sa.select(PaymentCustomer).where(
            PaymentCustomer.user_id == user_id, PaymentCustomer.provider == realm()
        )
    ).scalar_one_or_none()


def customer_for_checkout(
    user_id: int, *, payable: Callable[[], object] | None = None
) -> str | None:
    """The account's Customer id, made now if it has none (call it with no transaction in
    progress: it may wait on the network). ``None`` for an account that cannot have one.
    ``payable``: raises when the checkout cannot go ahead as it stands, so no Customer is
    made for a press that is refused anyway. A new Customer's row is committed at once: it
    stands whatever the press does next."""
    with read_phase("payment-customer"):
        row = stored_customer(user_id)
        if row is not None:
            return row.customer_id
        user = db.session.get(User, user_id)
        if user is None or not user.is_active:
            return None
        if payable is not None:
            payable()
        email, name = user.email, user.name
        key = _key(user_id, email, name, replaces=_last_forgotten(user_id))
    customer_id = provider.create_customer(
        email=email, name=name, user_id=user_id, idempotency_key=key
    )
    now = utcnow()
    db.session.execute(
        upsert(PaymentCustomer)
        .values(
            user_id=user_id,
            provider=realm(),
            customer_id=customer_id,
            email=email,
            name=name,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "provider"])
    )
    row = stored_customer(user_id)  # ours, or the one a concurrent checkout stored first
    assert row is not None
    kept = row.customer_id
    if kept != customer_id:  # different details at the same moment: keep one
        log.warning("account %s: customer %s made but %s kept", user_id, customer_id, kept)
    commit_point("payment-customer-stored")
    return kept


def forget_customer(user_id: int, customer_id: str) -> None:
    """The provider no longer knows this Customer (deleted in its Dashboard, say): the next
    checkout makes a new one, under a key that names this one (see :func:`_key`). Staff
    see it in the audit log."""
    gone = affected(
        sa.delete(PaymentCustomer).where(
            PaymentCustomer.user_id == user_id, PaymentCustomer.customer_id == customer_id
        )
    )
    if not gone:  # forgotten already (another press): the newest forgotten stays the newest
        return
    audit(
        FORGOTTEN,
        target_user_id=user_id,
        target=customer_id,
        detail="unknown to the payment provider (deleted there?); a new one at the next checkout",
    )
    log.warning("account %s: customer %s unknown to the provider, forgotten", user_id, customer_id)


def account_changed(user: User) -> None:
    """The account's email or name changed (in the caller's transaction): its Customer, if
    it has one, is told once that commits."""
    user_id = user.id

    def enqueue() -> None:
        from app.payments.tasks import sync_customer

        sync_customer(user_id)

    after_commit(enqueue, key=f"sync-customer-{user_id}")


def sync(user_id: int) -> bool:
    """Send the account's current email and name to its Customer when they differ from what
    the provider was last told (the task's body; safe to run any number of times)."""
    with read_phase("payment-customer-sync"):
        row = stored_customer(user_id)
        user = db.session.get(User, user_id)
        if row is None or user is None:
            return False
        customer_id, email, name = row.customer_id, user.email, user.name
        deleted = user.deleted_at is not None
        if not deleted and (row.email, row.name) == (email, name):
            return False
    if deleted:  # the person asked to be forgotten: so is their Customer, cards and all
        provider.delete_customer(customer_id)
        db.session.execute(
            sa.delete(PaymentCustomer).where(
                PaymentCustomer.user_id == user_id, PaymentCustomer.customer_id == customer_id
            )
        )
        return True
    # An update is idempotent by itself; a key per call, so a change back and forth within
    # Stripe's day of keys is never answered from an earlier, identical request unapplied.
    provider.update_customer(
        customer_id,
        email=email,
        name=name,
        idempotency_key=f"customer-update-{user_id}-{secrets.token_hex(8)}",
    )
    db.session.execute(
        sa.update(PaymentCustomer)
        .where(PaymentCustomer.user_id == user_id, PaymentCustomer.customer_id == customer_id)
        .values(email=email, name=name, updated_at=utcnow())
    )
    return True


def deleted_accounts_with_customers(limit: int = 100) -> list[int]:
    """Deleted accounts whose Customer is still at the provider (its deletion task ran out
    of retries during an outage): the sweeper sends them again."""
    return list(
        db.session.execute(
            sa.select(PaymentCustomer.user_id)
            .join(User, User.id == PaymentCustomer.user_id)
            .where(User.deleted_at.is_not(None))
            .order_by(PaymentCustomer.user_id)
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True)
class Cards:
    cards: list[SavedCard]
    unavailable: bool = False  # the provider could not be asked just now


def _customer_id(user_id: int) -> str | None:
    with read_phase("payment-customer-id"):  # no transaction open while Stripe is asked
        row = stored_customer(user_id)
        return row.customer_id if row is not None else None


def saved_cards(user_id: int) -> Cards:
    """The account's saved cards as the provider has them (none without a Customer)."""
    return _cards_of(user_id, _customer_id(user_id))


def _cards_of(user_id: int, customer_id: str | None) -> Cards:
    if customer_id is None:
        return Cards([])
    try:
        return Cards(provider.list_saved_cards(customer_id))
    except PaymentError:
        log.warning("saved cards of account %s could not be listed", user_id, exc_info=True)
        return Cards([], unavailable=True)


class CardNotFound(LookupError):
    """Not one of this account's saved cards (or removed already)."""


def remove_card(user_id: int, card_id: str) -> SavedCard:
    """Remove one of the account's saved cards at the provider; the card as it was listed
    (for the message), :class:`CardNotFound` when it is not theirs, PaymentError when the
    provider cannot be asked. Audited."""
    customer_id = _customer_id(user_id)
    listed = _cards_of(user_id, customer_id)
    if listed.unavailable:
        raise PaymentsUnavailable()
    card = next((c for c in listed.cards if c.id == card_id), None)
    if card is None or customer_id is None:
        raise CardNotFound(card_id)
    try:
        provider.detach_saved_card(customer_id, card.id)
    except PaymentRejected as exc:
        if exc.http_status == 404:  # removed meanwhile (another tab)
            raise CardNotFound(card_id) from exc
        raise
    audit(
        "account.card_removed",
        actor_id=user_id,
        target_user_id=user_id,
        target=f"{card.brand} ending {card.last4}",
    )
    return card
