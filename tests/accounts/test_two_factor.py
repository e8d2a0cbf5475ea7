"""Two-factor authentication: enrolment, the sign-in challenge, recovery codes, replay,
lockout of the pending login, disabling, and the first admin's enrolment."""

from __future__ import annotations

import re
import time

import pyotp
import sqlalchemy as sa

from app.accounts.models import AuditEvent, RecoveryCode, User, UserSession
from app.accounts.passwords import verify_password
from app.accounts.permissions import permission_required
from app.accounts.views import PENDING_2FA
from app.db import utcnow
from tests.accounts.helpers import PASSWORD, csrf_token, login, make_user

SETUP = "/account/two-factor"
CHALLENGE = "/account/login/two-factor"
RECOVERY = re.compile(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>")


# -- helpers ----------------------------------------------------------------------------------


def enable_directly(db, user: User) -> str:
    """Enrol without the pages (as the staff-gate tests do)."""
    secret = pyotp.random_base32()
    user.totp_secret = secret
    user.totp_enabled_at = utcnow()
    db.session.flush()
    return secret


def code_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def next_code(secret: str) -> str:
    """The next time-step's code: still accepted, and later than any code used before it."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def wrong_code(secret: str) -> str:
    totp = pyotp.TOTP(secret)
    valid = {totp.at(time.time() + delta) for delta in (-60, -30, 0, 30, 60)}
    return next(c for c in ("000000", "111111", "123456", "999999") if c not in valid)


def post(client, path: str, data: dict[str, str]):
    return client.post(path, data={"csrf_token": csrf_token(client, path), **data})


def submit_code(client, code: str):
    token = csrf_token(client)  # from the sign-in page: the challenge may send you there
    return client.post(CHALLENGE, data={"code": code, "csrf_token": token})


def sign_in_with_code(client, secret: str, email: str = "ada@example.com", code: str | None = None):
    first = login(client, email)
    assert first.status_code == 302 and first.headers["Location"] == CHALLENGE
    return submit_code(client, code or code_now(secret))


def logout(client) -> None:
    client.post("/account/logout", data={"csrf_token": csrf_token(client, "/")})


def enrol(client) -> tuple[str, list[str], str]:
    """Enrol through the pages; returns (secret, recovery codes, recovery-codes page)."""
    client.get(SETUP)
    with client.session_transaction() as sess:
        secret = sess["totp_setup"]["secret"]
    response = post(client, SETUP, {"action": "enable", "code": code_now(secret)})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    return secret, RECOVERY.findall(page), page


def audits(db, action: str) -> list[AuditEvent]:
    return list(
        db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)).scalars()
    )


def fresh(db, user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


# -- enrolment --------------------------------------------------------------------------------


def test_setup_shows_a_server_drawn_qr_code_without_styles_and_keeps_the_secret_out_of_the_db(
    client, db
):
    user = make_user()
    login(client)
    response = client.get(SETUP)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    svg = html[html.index("<svg") : html.index("</svg>") + 6]
    assert 'class="qr-code"' in svg and "<path" in svg and "<title>" in svg
    assert "style=" not in html and "<style" not in html
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    with client.session_transaction() as sess:
        secret = sess["totp_setup"]["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    grouped = " ".join(secret[i : i + 4] for i in range(0, 32, 4))
    assert grouped in html  # for typing in by hand
    assert 'autocomplete="one-time-code"' in html and 'for="code"' in html
    # A reload shows the same secret (the app may already have it), and the DB has none.
    client.get(SETUP)
    with client.session_transaction() as sess:
        assert sess["totp_setup"]["secret"] == secret
    assert fresh(db, user).totp_secret == "" and not fresh(db, user).totp_enabled


def test_a_wrong_code_is_refused_and_the_right_one_enables_with_recovery_codes_shown_once(
    client, db
):
    user = make_user()
    login(client)
    client.get(SETUP)
    with client.session_transaction() as sess:
        secret = sess["totp_setup"]["secret"]

    refused = post(client, SETUP, {"action": "enable", "code": wrong_code(secret)})
    assert refused.status_code == 200
    assert "That code is not correct" in refused.get_data(as_text=True)
    assert not fresh(db, user).totp_enabled

    response = post(client, SETUP, {"action": "enable", "code": code_now(secret)})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    codes = RECOVERY.findall(page)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "only time we show these" in page and "Two-factor authentication is on" in page

    user = fresh(db, user)
    assert user.totp_enabled and user.totp_secret == secret
    rows = list(
        db.session.execute(sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id))
        .scalars()
        .all()
    )
    assert len(rows) == 10
    for row, code in zip(rows, codes, strict=True):
        assert row.code_hash.startswith("$argon2id$") and row.used_at is None
        assert code.replace("-", "") not in row.code_hash
        assert verify_password(row.code_hash, code.replace("-", ""))
    with client.session_transaction() as sess:
        assert "totp_setup" not in sess
    # Enrolling proved the factor for this session.
    session_row = db.session.execute(
        sa.select(UserSession).where(UserSession.user_id == user.id)
    ).scalar_one()
    assert session_row.second_factor_at is not None
    assert len(audits(db, "2fa.enabled")) == 1

    # Shown once: the page afterwards manages 2FA and shows none of the codes.
    later = client.get(SETUP).get_data(as_text=True)
    assert "Two-factor authentication is on since" in later
    assert not any(code in later for code in codes)
    assert "10</strong> unused recovery codes" in later


def test_setup_needs_a_signed_in_user(client, db):
    response = client.get(SETUP)
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


# -- the sign-in challenge --------------------------------------------------------------------


def test_sign_in_needs_the_password_then_a_code(client, db):
    user = make_user()
    secret = enable_directly(db, user)
    first = client.post(
        "/account/login?next=/account/security",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert first.status_code == 302 and first.headers["Location"] == CHALLENGE
    # Between the two steps nobody is signed in.
    between = client.get("/account")
    assert between.status_code == 302 and "/account/login" in between.headers["Location"]
    page = client.get(CHALLENGE).get_data(as_text=True)
    assert "Authentication code or recovery code" in page

    response = submit_code(client, code_now(secret))
    assert response.status_code == 302 and response.headers["Location"] == "/account/security"
    assert client.get("/account").status_code == 200
    row = db.session.execute(
        sa.select(UserSession).where(UserSession.user_id == user.id)
    ).scalar_one()
    assert row.second_factor_at is not None
    assert len(audits(db, "login.2fa_success")) == 1
    with client.session_transaction() as sess:
        assert PENDING_2FA not in sess


def test_the_challenge_without_a_password_step_goes_to_sign_in(client, db):
    assert client.get(CHALLENGE).headers["Location"] == "/account/login"
    response = client.post(CHALLENGE, data={"code": "123456", "csrf_token": csrf_token(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/account/login"


def test_a_code_cannot_be_used_twice(client, db):
    user = make_user()
    secret = enable_directly(db, user)
    code = code_now(secret)
    assert sign_in_with_code(client, secret, code=code).status_code == 302
    logout(client)
    again = sign_in_with_code(client, secret, code=code)
    assert again.status_code == 200
    assert "already used" in again.get_data(as_text=True)
    assert client.get("/account").status_code == 302
    assert len(audits(db, "login.2fa_failure")) == 1
    # The next code works.
    assert submit_code(client, next_code(secret)).status_code == 302
    assert client.get("/account").status_code == 200


def test_a_recovery_code_works_once(client, db):
    user = make_user()
    login(client)
    secret, codes, _ = enrol(client)
    logout(client)

    login(client)
    # Case, spaces and the dash do not matter.
    typed = " " + codes[3].upper().replace("-", " - ") + " "
    response = submit_code(client, typed)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    page = client.get("/account").get_data(as_text=True)
    assert "You have 9 recovery codes left" in page
    used = db.session.execute(
        sa.select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_not(None)
        )
    ).scalar_one()
    assert verify_password(used.code_hash, codes[3].replace("-", ""))
    assert len(audits(db, "login.recovery_code_used")) == 1
    logout(client)

    login(client)
    again = submit_code(client, codes[3])
    assert again.status_code == 200 and "not correct" in again.get_data(as_text=True)
    assert client.get("/account").status_code == 302
    assert submit_code(client, codes[4]).status_code == 302
    assert "You have 8 recovery codes left" in client.get("/account").get_data(as_text=True)


def test_five_wrong_codes_send_you_back_to_the_password(client, db):
    user = make_user()
    secret = enable_directly(db, user)
    login(client)
    for attempt in range(1, 5):
        response = submit_code(client, wrong_code(secret))
        assert response.status_code == 200, attempt
        assert "not correct" in response.get_data(as_text=True)
    last = submit_code(client, wrong_code(secret))
    assert last.status_code == 302 and last.headers["Location"] == "/account/login"
    assert "Too many wrong codes" in client.get("/account/login").get_data(as_text=True)
    with client.session_transaction() as sess:
        assert PENDING_2FA not in sess
    assert len(audits(db, "login.2fa_failure")) == 5
    # A right code now is no use without the password again.
    assert submit_code(client, code_now(secret)).headers["Location"] == "/account/login"
    assert client.get("/account").status_code == 302


def test_the_password_again_does_not_buy_five_more_guesses(client, db):
    user = make_user()
    secret = enable_directly(db, user)
    login(client)
    for _ in range(5):
        submit_code(client, wrong_code(secret))
    login(client)  # the password again (an attacker who has it)
    blocked = submit_code(client, code_now(secret))  # even the right code
    assert blocked.status_code == 302 and blocked.headers["Location"] == "/account/login"
    page = client.get("/account/login").get_data(as_text=True)
    assert "Too many wrong codes for this account. Try again in" in page
    assert client.get("/account").status_code == 302
    assert len(audits(db, "login.blocked")) == 1


def test_replaying_an_older_cookie_does_not_reset_the_wrong_code_count(client, db):
    user = make_user()
    secret = enable_directly(db, user)
    login(client)
    client.get(CHALLENGE)
    with client.session_transaction() as sess:
        stale = dict(sess[PENDING_2FA])
    for _ in range(5):
        submit_code(client, wrong_code(secret))
    with client.session_transaction() as sess:  # the cookie as it was before the failures
        sess[PENDING_2FA] = stale
    response = submit_code(client, code_now(secret))
    assert response.status_code == 302 and response.headers["Location"] == "/account/login"
    assert client.get("/account").status_code == 302


def test_the_pending_sign_in_expires_after_five_minutes(client, db):
    user = make_user()
    secret = enable_directly(db, user)
    login(client)
    client.get(CHALLENGE)
    with client.session_transaction() as sess:
        pending = dict(sess[PENDING_2FA])
        assert pending["user_id"] == user.id
        pending["started_at"] -= 301
        sess[PENDING_2FA] = pending
    response = submit_code(client, code_now(secret))
    assert response.status_code == 302 and response.headers["Location"] == "/account/login"
    assert "took too long" in client.get("/account/login").get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_the_challenge_is_rate_limited(client, db):
    user = make_user()
    secret = enable_directly(db, user)
    login(client)
    token = csrf_token(client, CHALLENGE)
    statuses = [
        client.post(CHALLENGE, data={"code": wrong_code(secret), "csrf_token": token}).status_code
        for _ in range(21)
    ]
    assert statuses[:4] == [200] * 4 and statuses[4] == 302
    # 10 per minute in fixed windows: 21 quick posts overfill a window even when a minute
    # boundary falls between them.
    assert 429 not in statuses[:10] and 429 in statuses


def test_codes_are_accepted_one_step_either_side_only(app):
    from app.accounts import totp

    secret = pyotp.random_base32()
    otp = pyotp.TOTP(secret)
    at = 1_800_000_015.0  # the middle of a 30-second step
    step = int(at // 30)
    assert totp.matching_step(secret, otp.at(at), at=at) == step
    assert totp.matching_step(secret, otp.at(at - 30), at=at) == step - 1
    assert totp.matching_step(secret, otp.at(at + 30), at=at) == step + 1
    for far in (at - 60, at + 60):
        code = otp.at(far)
        if code not in {otp.at(at + d) for d in (-30, 0, 30)}:
            assert totp.matching_step(secret, code, at=at) is None
    assert totp.matching_step(secret, " " + otp.at(at)[:3] + " " + otp.at(at)[3:], at=at) == step
    assert totp.matching_step(secret, "12345", at=at) is None
    assert totp.matching_step(secret, "abcdef", at=at) is None
    assert totp.matching_step("", otp.at(at), at=at) is None


def test_replay_protection_holds_when_the_cache_is_down(app, monkeypatch):
    from app.accounts import totp

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(totp.cache, "get", down)
    secret = pyotp.random_base32()
    code = code_now(secret)
    with app.app_context():
        assert totp.check_code(987_654_321, secret, code)
        assert not totp.check_code(987_654_321, secret, code)


# -- managing 2FA -----------------------------------------------------------------------------


def test_new_recovery_codes_need_a_current_code_and_replace_the_old_ones(client, db):
    user = make_user()
    secret = enable_directly(db, user)
    sign_in_with_code(client, secret)
    refused = post(client, SETUP, {"action": "regenerate", "regenerate-code": wrong_code(secret)})
    assert refused.status_code == 200 and "not correct" in refused.get_data(as_text=True)
    first = post(client, SETUP, {"action": "regenerate", "regenerate-code": next_code(secret)})
    assert first.status_code == 200
    codes = RECOVERY.findall(first.get_data(as_text=True))
    assert len(codes) == 10
    hashes = db.session.execute(
        sa.select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)
    ).scalars()
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert len(audits(db, "2fa.recovery_codes_regenerated")) == 1


def test_turning_off_needs_the_password_and_a_current_code(client, db):
    user = make_user()
    secret = enable_directly(db, user)
    sign_in_with_code(client, secret)
    page = client.get(SETUP).get_data(as_text=True)
    assert 'name="disable-password"' in page

    wrong_password = post(
        client,
        SETUP,
        {"action": "disable", "disable-password": "not my password", "disable-code": "123456"},
    )
    assert "Your password is not correct" in wrong_password.get_data(as_text=True)
    wrong = post(
        client,
        SETUP,
        {"action": "disable", "disable-password": PASSWORD, "disable-code": wrong_code(secret)},
    )
    assert "That code is not correct" in wrong.get_data(as_text=True)
    missing = post(client, SETUP, {"action": "disable", "disable-password": PASSWORD})
    assert "Enter the 6-digit code" in missing.get_data(as_text=True)
    assert fresh(db, user).totp_enabled

    done = post(
        client,
        SETUP,
        {"action": "disable", "disable-password": PASSWORD, "disable-code": next_code(secret)},
    )
    assert done.status_code == 302 and done.headers["Location"] == SETUP
    user = fresh(db, user)
    assert not user.totp_enabled and user.totp_secret == ""
    assert (
        db.session.execute(
            sa.select(sa.func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id)
        ).scalar_one()
        == 0
    )
    assert len(audits(db, "2fa.disabled")) == 1
    logout(client)
    # Signing in is one step again.
    assert login(client).headers["Location"] == "/account"


def test_staff_cannot_turn_it_off(client, db):
    user = make_user("sam@example.com", role="staff")
    secret = enable_directly(db, user)
    sign_in_with_code(client, secret, email="sam@example.com")
    page = client.get(SETUP).get_data(as_text=True)
    assert "Staff accounts must keep two-factor authentication on" in page
    assert 'name="disable-password"' not in page
    response = post(
        client,
        SETUP,
        {"action": "disable", "disable-password": PASSWORD, "disable-code": next_code(secret)},
    )
    assert response.status_code == 302
    assert "must keep two-factor" in client.get(SETUP).get_data(as_text=True)
    assert fresh(db, user).totp_enabled
    assert audits(db, "2fa.disabled") == []


def test_unknown_actions_are_refused(client, db):
    make_user()
    login(client)
    assert post(client, SETUP, {"action": "nope", "code": "123456"}).status_code == 400


# -- the first admin --------------------------------------------------------------------------


def test_an_admin_from_the_cli_enrols_at_first_sign_in_before_reaching_staff_pages(
    app, make_app, db
):
    passphrase = "granite lantern orbit marmalade"
    result = app.test_cli_runner().invoke(
        args=["shop", "create-admin", "--email", "boss@example.com", "--password", passphrase]
    )
    assert result.exit_code == 0, result.output
    assert "Admin boss@example.com created" in result.output

    shop = make_app()

    @shop.get("/__settings")
    @permission_required("settings.edit")
    def settings_page():
        return "settings"

    client = shop.test_client()
    signed_in = login(client, "boss@example.com", passphrase)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == SETUP
    blocked = client.get("/__settings")
    assert blocked.status_code == 302 and blocked.headers["Location"] == SETUP
    assert "Staff accounts must use two-factor" in client.get(SETUP).get_data(as_text=True)

    secret, codes, _ = enrol(client)
    assert len(codes) == 10
    allowed = client.get("/__settings")
    assert allowed.status_code == 200 and allowed.get_data(as_text=True) == "settings"

    # Next time: password, then a code, then the staff page.
    logout(client)
    again = login(client, "boss@example.com", passphrase)
    assert again.headers["Location"] == CHALLENGE
    assert client.get("/__settings").status_code == 404  # not signed in yet
    assert submit_code(client, next_code(secret)).status_code == 302
    assert client.get("/__settings").status_code == 200
