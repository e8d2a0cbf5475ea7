"""Profile (name, phone), email change, notification preferences and account deletion."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.addresses import add_address
from app.accounts.models import Address, AuditEvent, RecoveryCode, User, UserSession
from app.extensions import db as _db
from app.notifications.models import Notification, NotificationPreference, Suppression
from app.notifications.services import is_allowed, set_preference
from tests.accounts.helpers import (
    PASSWORD,
    csrf_token,
    delete_account,
    latest_link,
    login,
    make_user,
)

ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "10 Downing Street",
    "city": "London",
    "postal_code": "SW1A 2AA",
    "country": "GB",
}


def signed_in(client, email: str = "ada@example.com", **kwargs) -> User:
    user = make_user(email, **kwargs)
    response = login(client, email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return user


def fresh(user: User) -> User:
    _db.session.expire_all()
    return _db.session.get(User, user.id)


def notifications(to: str, template: str) -> list[Notification]:
    return list(
        _db.session.execute(
            sa.select(Notification).where(
                Notification.to_address == to, Notification.template == template
            )
        ).scalars()
    )


def audit_actions(user_id: int) -> list[str]:
    return list(
        _db.session.execute(
            sa.select(AuditEvent.action).where(AuditEvent.target_user_id == user_id)
        ).scalars()
    )


@pytest.mark.parametrize(
    "path",
    [
        "/account/profile",
        "/account/addresses",
        "/account/addresses/new",
        "/account/addresses/1/edit",
        "/account/preferences",
        "/account/delete",
    ],
)
def test_pages_need_a_signed_in_user(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=")
    assert path.replace("/", "%2F") in response.headers["Location"]


def test_profile_page_has_both_forms_and_accessible_fields(client, db):
    signed_in(client)
    html = client.get("/account/profile").get_data(as_text=True)
    assert 'action="/account/profile"' in html and 'action="/account/profile/email"' in html
    assert '<label for="phone">' in html and '<label for="new_email">' in html
    assert "← Your account" in html
    assert "style=" not in html and "<script>" not in html


def test_profile_update_stores_the_phone_as_e164(client, db):
    user = signed_in(client)
    token = csrf_token(client, "/account/profile")
    response = client.post(
        "/account/profile",
        data={"name": "  Ada   King ", "phone": "07400 123456", "csrf_token": token},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/account/profile"
    user = fresh(user)
    assert user.name == "Ada King"
    assert user.phone == "+447400123456"
    assert "profile.updated" in audit_actions(user.id)
    assert "Your profile was saved." in client.get("/account/profile").get_data(as_text=True)


def test_profile_accepts_an_international_number_and_an_empty_phone(client, db):
    user = signed_in(client)
    token = csrf_token(client, "/account/profile")
    client.post(
        "/account/profile",
        data={"name": "Ada", "phone": "+1 (202) 555-0143", "csrf_token": token},
    )
    assert fresh(user).phone == "+12025550143"
    client.post("/account/profile", data={"name": "Ada", "phone": "", "csrf_token": token})
    assert fresh(user).phone == ""


@pytest.mark.parametrize("phone", ["12345", "not a number", "+44 1234"])
def test_profile_refuses_an_invalid_phone_with_a_clear_message(client, db, phone):
    user = signed_in(client)
    token = csrf_token(client, "/account/profile")
    response = client.post(
        "/account/profile", data={"name": "Someone Else", "phone": phone, "csrf_token": token}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Enter a valid phone number" in html
    assert 'aria-describedby="phone-hint phone-error"' in html
    user = fresh(user)
    assert user.phone == "" and user.name == "Ada Lovelace"


def test_profile_post_needs_the_csrf_token(client, db):
    user = signed_in(client)
    response = client.post("/account/profile", data={"name": "Mallory", "phone": ""})
    assert response.status_code == 400
    assert fresh(user).name == "Ada Lovelace"


def test_email_change_needs_the_current_password(client, db):
    user = signed_in(client)
    token = csrf_token(client, "/account/profile")
    response = client.post(
        "/account/profile/email",
        data={"new_email": "ada@new.example", "current_password": "wrong", "csrf_token": token},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Your password is not correct." in html
    assert "wrong" not in html.split('id="current_password"')[1].split(">")[0]
    assert fresh(user).pending_email == ""
    assert notifications("ada@new.example", "verify-email") == []


def test_email_change_refuses_an_address_another_account_uses(client, db):
    make_user("grace@example.com", name="Grace Hopper")
    user = signed_in(client)
    token = csrf_token(client, "/account/profile")
    response = client.post(
        "/account/profile/email",
        data={"new_email": "Grace@Example.com", "current_password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 422
    assert "Another account already uses that email address" in response.get_data(as_text=True)
    assert fresh(user).pending_email == ""


def test_email_change_applies_when_the_link_is_opened_and_tells_the_old_address(client, db):
    user = signed_in(client)
    token = csrf_token(client, "/account/profile")
    response = client.post(
        "/account/profile/email",
        data={"new_email": "Ada@New.Example", "current_password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    user = fresh(user)
    assert user.pending_email == "ada@new.example" and user.email == "ada@example.com"
    assert "account.email_change_requested" in audit_actions(user.id)
    page = client.get("/account/profile").get_data(as_text=True)
    assert "ada@new.example" in page

    opened = client.get(latest_link("ada@new.example", "verify-email"))
    assert opened.status_code == 302
    user = fresh(user)
    assert user.email == "ada@new.example" and user.pending_email == ""
    assert len(notifications("ada@example.com", "email-changed")) == 1

    client.post("/account/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert login(client, "ada@new.example").status_code == 302
    assert client.get("/account").status_code == 200


def test_an_unverified_account_cannot_change_its_email(client, db):
    user = signed_in(client, verified=False)
    page = client.get("/account/profile").get_data(as_text=True)
    assert "Confirm your current email address before you change it" in page
    response = client.post(
        "/account/profile/email",
        data={
            "new_email": "ada@new.example",
            "current_password": PASSWORD,
            "csrf_token": csrf_token(client, "/account/profile"),
        },
    )
    assert response.status_code == 422
    assert "Confirm your current email address (ada@example.com) first" in response.get_data(
        as_text=True
    )
    assert fresh(user).pending_email == ""
    assert notifications("ada@new.example", "verify-email") == []


# --- Notification preferences ----------------------------------------------------------


def preference_data(token: str, **choices: bool) -> dict[str, str]:
    data = {"csrf_token": token}
    data.update({name: "y" for name, on in choices.items() if on})
    return data


def test_preferences_page_shows_the_locked_transactional_email(client, db):
    signed_in(client)
    html = client.get("/account/preferences").get_data(as_text=True)
    assert "<caption>" in html
    locked = html.split('id="email_transactional"')[0].rsplit("<input", 1)[1]
    assert "disabled" in locked and "checked" in locked
    assert "cannot be switched off" in html
    assert "Order and account updates" in html and "News and offers" in html


def test_transactional_email_cannot_be_switched_off(client, db):
    user = signed_in(client)
    token = csrf_token(client, "/account/preferences")
    response = client.post("/account/preferences", data=preference_data(token))
    assert response.status_code == 302
    assert is_allowed(user.email, user.id, "email", "transactional") is True
    with pytest.raises(ValueError):
        set_preference(user.id, "email", "transactional", False)


def test_sms_opt_in_needs_a_phone_number(client, db):
    user = signed_in(client)
    token = csrf_token(client, "/account/preferences")
    response = client.post(
        "/account/preferences", data=preference_data(token, sms_transactional=True)
    )
    assert response.status_code == 422
    assert "Add a mobile phone number to your profile" in response.get_data(as_text=True)
    assert is_allowed("", user.id, "sms", "transactional") is False


def test_sms_and_whatsapp_opt_in_with_a_phone_number(client, db):
    user = signed_in(client)
    token = csrf_token(client, "/account/profile")
    client.post(
        "/account/profile", data={"name": "Ada", "phone": "07400123456", "csrf_token": token}
    )
    token = csrf_token(client, "/account/preferences")
    response = client.post(
        "/account/preferences",
        data=preference_data(token, sms_transactional=True, whatsapp_marketing=True),
    )
    assert response.status_code == 302
    phone = fresh(user).phone
    assert is_allowed(phone, user.id, "sms", "transactional") is True
    assert is_allowed(phone, user.id, "whatsapp", "marketing") is True
    assert is_allowed(phone, user.id, "sms", "marketing") is False
    html = client.get("/account/preferences").get_data(as_text=True)
    sms = html.split('id="sms_transactional"')[0].rsplit("<input", 1)[1]
    assert "checked" in sms


def test_opting_in_to_marketing_email_lifts_an_earlier_unsubscribe(client, db):
    user = signed_in(client)
    _db.session.add(Suppression(address=user.email, category="marketing", reason="unsubscribe"))
    _db.session.flush()
    assert is_allowed(user.email, user.id, "email", "marketing") is False
    token = csrf_token(client, "/account/preferences")
    response = client.post(
        "/account/preferences", data=preference_data(token, email_marketing=True)
    )
    assert response.status_code == 302
    _db.session.expire_all()
    assert is_allowed(user.email, user.id, "email", "marketing") is True
    # And opting out again is a stored choice.
    token = csrf_token(client, "/account/preferences")
    client.post("/account/preferences", data=preference_data(token))
    _db.session.expire_all()
    assert is_allowed(user.email, user.id, "email", "marketing") is False


# --- Account deletion ------------------------------------------------------------------


def test_delete_account_anonymises_and_signs_out_everywhere(client, app, db):
    user = signed_in(client)
    user_id = user.id
    add_address(user, ADDRESS)
    set_preference(user_id, "email", "marketing", True)
    _db.session.add(RecoveryCode(user_id=user_id, code_hash="x"))
    _db.session.flush()
    other_browser = app.test_client()
    assert login(other_browser).status_code == 302

    response = delete_account(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"

    user = fresh(user)
    assert user.email == f"deleted-{user_id}@invalid.example"
    assert user.name == "Deleted customer"
    assert user.phone == "" and user.pending_email == "" and user.totp_secret == ""
    assert user.deleted_at is not None and user.is_active_account is False
    for model in (Address, NotificationPreference, RecoveryCode):
        count = _db.session.execute(
            sa.select(sa.func.count()).select_from(model).where(model.user_id == user_id)
        ).scalar_one()
        assert count == 0, model
    open_sessions = _db.session.execute(
        sa.select(sa.func.count()).where(
            UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
        )
    ).scalar_one()
    assert open_sessions == 0
    assert "account.deleted" in audit_actions(user_id)

    # Both browsers are signed out; the old password opens nothing.
    for browser in (client, other_browser):
        assert browser.get("/account").status_code == 302
    assert login(client, "ada@example.com").status_code == 200
    assert login(client, f"deleted-{user_id}@invalid.example").status_code == 200

    # The address is free again.
    token = csrf_token(client, "/account/signup")
    signup = client.post(
        "/account/signup",
        data={
            "name": "Ada Again",
            "email": "ada@example.com",
            "password": PASSWORD,
            "csrf_token": token,
        },
    )
    assert signup.status_code == 302


def test_delete_account_needs_the_password_and_the_confirmation(client, db):
    user = signed_in(client)
    token = csrf_token(client, "/account/delete")
    wrong = client.post(
        "/account/delete", data={"current_password": "nope", "confirm": "y", "csrf_token": token}
    )
    assert wrong.status_code == 422
    assert "Your password is not correct." in wrong.get_data(as_text=True)
    unticked = client.post(
        "/account/delete", data={"current_password": PASSWORD, "csrf_token": token}
    )
    assert unticked.status_code == 422
    assert "Tick the box to confirm" in unticked.get_data(as_text=True)
    user = fresh(user)
    assert user.deleted_at is None and user.email == "ada@example.com"
    assert client.get("/account").status_code == 200


def test_staff_cannot_delete_themselves(client, db):
    staff = make_user("staff@example.com", name="Sam Staff", role="staff")
    assert login(client, "staff@example.com").status_code == 302
    page = client.get("/account/delete").get_data(as_text=True)
    assert "Ask another admin" in page
    response = client.post(
        "/account/delete",
        data={
            "current_password": PASSWORD,
            "confirm": "y",
            "csrf_token": csrf_token(client, "/account/delete"),
        },
    )
    assert response.status_code == 422
    assert "Ask another admin" in response.get_data(as_text=True)
    assert fresh(staff).deleted_at is None


def test_password_guesses_are_limited_per_account_on_both_doors(app, client, db):
    """A stolen session (or token) cannot be used to guess the password: changing it, the
    email address or deleting the account share ten tries an hour per account, whichever
    door and whichever address they come from; other accounts are not affected."""
    from tests.api.helpers import bearer, tokens

    user = signed_in(client)
    token = csrf_token(client, "/account/security")

    def web_guess(i: int, remote: str = "127.0.0.1") -> int:
        data = {"current_password": f"guess {i}", "new_password": "a brand new passphrase 9"}
        return client.post(
            "/account/security",
            data={**data, "csrf_token": token},
            environ_base={"REMOTE_ADDR": remote},
        ).status_code

    statuses = [web_guess(i, remote=f"10.0.0.{i}") for i in range(6)]
    email = client.post(
        "/account/profile/email",
        data={"current_password": "guess", "new_email": "x@example.com", "csrf_token": token},
    )
    statuses.append(email.status_code)
    auth = bearer(tokens(client, user.email)["access_token"])
    for i in range(3):
        statuses.append(
            client.post(
                "/api/v1/me/password",
                json={"current_password": f"api {i}", "new_password": "a brand new passphrase 9"},
                headers=auth,
            ).status_code
        )
    assert 429 not in statuses, statuses
    assert web_guess(11, remote="10.9.9.9") == 429
    assert client.get("/account/security").status_code == 200  # reading is not limited
    api = client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase 9"},
        headers=auth,
    )
    assert api.status_code == 429  # even the right password waits: nothing is learnt
    assert tokens(app.test_client(), user.email)  # the password is unchanged

    other = app.test_client()
    make_user("grace@example.com")
    login(other, "grace@example.com")
    data = {"current_password": "guess", "new_password": "another passphrase 9"}
    response = other.post(
        "/account/security", data={**data, "csrf_token": csrf_token(other, "/account/security")}
    )
    assert response.status_code != 429
