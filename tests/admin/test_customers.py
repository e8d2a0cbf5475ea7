"""Staff customer screens: list and search, a person's page, and the account actions
(role, unlock, deactivate, two-factor reset, anonymise) with their permission gates."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import Address, AuditEvent, LoginThrottle, User
from app.db import commit_unit_of_work
from app.extensions import db as _db
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf, enrolled, sign_in_staff
from tests.catalog import factories
from tests.orders.helpers import order_for


def fresh(user_id: int) -> User:
    _db.session.expire_all()
    return _db.session.get(User, user_id)


def audit_actions(user_id: int) -> list[tuple[str, int | None]]:
    return list(
        _db.session.execute(
            sa.select(AuditEvent.action, AuditEvent.actor_id)
            .where(AuditEvent.target_user_id == user_id)
            .order_by(AuditEvent.id)
        ).all()
    )


def customer_signed_in(app, email: str = "ada@example.com"):
    """A second browser: the customer, signed in to their account."""
    other = app.test_client()
    user = make_user(email)
    commit_unit_of_work()
    assert login(other, email).status_code == 302
    assert other.get("/account/profile").status_code == 200
    return other, user


def post(client, path: str, **data):
    return client.post(path, data={"csrf_token": csrf(client, "/admin/customers"), **data})


# --- gates --------------------------------------------------------------------------


ACTIONS = ["role", "unlock", "deactivate", "reactivate", "two-factor-reset", "anonymise"]


def test_customers_get_404_everywhere(client, db):
    target = make_user("target@example.com", name="Target Person")
    make_user("shopper@example.com")
    commit_unit_of_work()
    login(client, "shopper@example.com")
    assert client.get("/admin/customers").status_code == 404
    assert client.get(f"/admin/customers/{target.id}").status_code == 404
    token = csrf(client, "/account/profile")
    for action in ACTIONS:
        response = client.post(
            f"/admin/customers/{target.id}/{action}", data={"csrf_token": token, "role": "admin"}
        )
        assert response.status_code == 404, action
    assert fresh(target.id).role == "customer"


def test_staff_see_customers_but_cannot_manage_accounts(client, db):
    target = make_user("target@example.com", name="Target Person")
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    assert client.get("/admin/customers").status_code == 200
    page = client.get(f"/admin/customers/{target.id}").get_data(as_text=True)
    assert "Target Person" in page and "Manage account" not in page
    token = csrf(client, "/admin/customers")
    for action in ACTIONS:
        response = client.post(
            f"/admin/customers/{target.id}/{action}",
            data={"csrf_token": token, "role": "admin", "confirm_email": target.email},
        )
        assert response.status_code == 403, action
    user = fresh(target.id)
    assert (user.role, user.is_active_account, user.deleted_at) == ("customer", True, None)


def test_posts_without_csrf_are_refused(client, db):
    target = make_user("target@example.com")
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    response = client.post(f"/admin/customers/{target.id}/deactivate")
    assert response.status_code == 400
    assert fresh(target.id).is_active_account is True


@pytest.mark.parametrize("path", ["/admin/customers/99999999999", "/admin/customers/0"])
def test_unknown_or_huge_ids_are_404(client, db, path):
    sign_in_staff(client, "admin")
    assert client.get(path).status_code == 404
    assert post(client, path + "/deactivate").status_code == 404


# --- list and detail -------------------------------------------------------------------


def test_list_searches_filters_and_sorts(client, db, app):
    make_user("zoe@example.com", name="Zoe Zebra")
    make_user("amy@example.com", name="Amy Apple", verified=False)
    gone = make_user("gone@example.com", name="Gone Person")
    gone.is_active_account = False
    make_user("50%off@example.com", name="Percent Person")
    db.session.add(
        LoginThrottle(email="zoe@example.com", failures=0, locked_until=_future(minutes=20))
    )
    commit_unit_of_work()
    sign_in_staff(client, "staff")

    def emails(query: str) -> list[str]:
        html = client.get(f"/admin/customers?{query}").get_data(as_text=True)
        order = ["zoe@", "amy@", "gone@", "50%off@", "staff@"]
        found = [(html.find(e), e) for e in order if e in html]
        return [e for _, e in sorted(found)]

    assert emails("q=zebra") == ["zoe@"]
    assert emails("q=AMY") == ["amy@"]
    assert emails("q=%25") == ["50%off@"]  # a typed % is literal, not a wildcard
    assert emails("status=locked") == ["zoe@"]
    assert emails("status=deactivated") == ["gone@"]
    assert emails("status=unverified") == ["amy@"]
    assert emails("role=staff") == ["staff@"]
    assert emails("sort=email&role=customer") == ["50%off@", "amy@", "gone@", "zoe@"]
    assert emails("sort=-email&role=customer") == ["zoe@", "gone@", "amy@", "50%off@"]
    assert "staff@" in emails("status=nonsense&sort=drop+table")  # unknown values ignored

    partial = client.get(
        "/admin/customers?q=zoe", headers={"HX-Request": "true", "HX-Target": "admin-results"}
    )
    body = partial.get_data(as_text=True)
    assert "zoe@example.com" in body and "<html" not in body


def _future(minutes: int):
    from datetime import timedelta

    from app.db import utcnow

    return utcnow() + timedelta(minutes=minutes)


def test_names_are_escaped(client, db):
    make_user("xss@example.com", name='<script>alert("x")</script>')
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    html = client.get("/admin/customers").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


def test_detail_shows_orders_addresses_security_and_audit_trail(client, db):
    target = make_user("target@example.com", name="Target Person")
    target.addresses.append(
        Address(full_name="Target Person", line1="1 Long Lane", city="Cork", country="IE")
    )
    variant = factories.product("Stoneware Mug", price=1500, stock=5).variants[0]
    order = order_for([(variant, 2)], email=target.email)
    order.user_id = target.id
    commit_unit_of_work()
    sign_in_staff(client, "staff")
    html = client.get(f"/admin/customers/{target.id}").get_data(as_text=True)
    assert "Orders (1)" in html
    assert f'<a href="/admin/orders/{order.id}">{order.number}</a>' in html
    assert "1 Long Lane" in html and "Cork" in html
    assert "account.created" in html  # the audit trail about them
    assert "Not locked" in html and "Confirmed" in html


# --- role -------------------------------------------------------------------------------


def test_admin_grants_staff_which_is_audited_and_ends_their_sessions(client, db, app):
    other, target = customer_signed_in(app)
    admin = sign_in_staff(client, "admin")
    response = post(client, f"/admin/customers/{target.id}/role", role="staff")
    assert response.status_code == 302
    assert fresh(target.id).role == "staff"
    assert ("account.role_changed", admin.id) in audit_actions(target.id)
    # Their browser is signed out: privileges changed, they must sign in again.
    assert other.get("/account/profile").status_code == 302


def test_an_admin_cannot_demote_themselves(client, db):
    admin = sign_in_staff(client, "admin")
    response = post(client, f"/admin/customers/{admin.id}/role", role="customer")
    assert response.status_code == 422
    assert "can&#39;t change the role of your own account" in response.get_data(as_text=True)
    assert fresh(admin.id).role == "admin"
    assert client.get("/admin/customers").status_code == 200  # still signed in


def test_an_unknown_role_is_refused(client, db):
    target = make_user("target@example.com")
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    response = post(client, f"/admin/customers/{target.id}/role", role="superuser")
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)
    assert fresh(target.id).role == "customer"


# --- deactivate, reactivate, unlock ----------------------------------------------------


def test_deactivation_signs_the_person_out_everywhere_and_blocks_sign_in(client, db, app):
    from app.api.tokens import issue_tokens

    other, target = customer_signed_in(app)
    access = issue_tokens(target).access_token
    commit_unit_of_work()
    bearer = {"Authorization": f"Bearer {access}"}
    assert app.test_client().get("/api/v1/me", headers=bearer).status_code == 200

    admin = sign_in_staff(client, "admin")
    assert post(client, f"/admin/customers/{target.id}/deactivate").status_code == 302
    assert fresh(target.id).is_active_account is False
    assert ("account.deactivated", admin.id) in audit_actions(target.id)

    assert other.get("/account/profile").status_code == 302  # signed out on their next request
    assert app.test_client().get("/api/v1/me", headers=bearer).status_code == 401
    again = app.test_client()
    login(again, target.email)
    assert again.get("/account/profile").status_code == 302  # cannot sign in any more

    html = client.get(f"/admin/customers/{target.id}").get_data(as_text=True)
    assert "Deactivated" in html and "Reactivate account" in html
    assert post(client, f"/admin/customers/{target.id}/reactivate").status_code == 302
    assert fresh(target.id).is_active_account is True
    assert login(again, target.email).status_code == 302
    assert again.get("/account/profile").status_code == 200


def test_an_admin_cannot_deactivate_themselves(client, db):
    admin = sign_in_staff(client, "admin")
    response = post(client, f"/admin/customers/{admin.id}/deactivate")
    assert response.status_code == 422
    assert "deactivate your own account" in response.get_data(as_text=True)
    assert fresh(admin.id).is_active_account is True


def test_unlock_clears_a_lockout(client, db, app):
    target = make_user("target@example.com")
    commit_unit_of_work()
    other = app.test_client()
    for _ in range(app.config["LOCKOUT_THRESHOLD"]):
        login(other, target.email, password="wrong password entirely")
    assert login(other, target.email).status_code != 302  # locked, even with the password
    sign_in_staff(client, "admin")
    html = client.get(f"/admin/customers/{target.id}").get_data(as_text=True)
    assert "Locked out" in html
    assert post(client, f"/admin/customers/{target.id}/unlock").status_code == 302
    assert ("account.unlocked",) in [a[:1] for a in audit_actions(target.id)]
    assert login(other, target.email).status_code == 302


# --- two-factor reset ---------------------------------------------------------------


def test_admin_resets_two_factor_for_staff_who_lost_their_authenticator(client, db, app):
    member = enrolled("member@example.com", "staff")
    other = app.test_client()
    login(other, member.email)
    admin = sign_in_staff(client, "admin")
    assert post(client, f"/admin/customers/{member.id}/two-factor-reset").status_code == 302
    user = fresh(member.id)
    assert not user.totp_enabled and user.totp_secret == ""
    assert ("2fa.reset", admin.id) in audit_actions(member.id)
    # At the next sign-in the staff member is sent to set two-factor up again.
    response = login(app.test_client(), member.email)
    assert response.headers["Location"] == "/account/two-factor"


def test_resetting_two_factor_when_it_is_off_says_so(client, db):
    target = make_user("target@example.com")
    commit_unit_of_work()
    sign_in_staff(client, "admin")
    response = post(client, f"/admin/customers/{target.id}/two-factor-reset")
    assert response.status_code == 422 and "not on" in response.get_data(as_text=True)


# --- anonymise ----------------------------------------------------------------------


def test_anonymise_needs_the_typed_email_then_keeps_orders_without_the_person(client, db, app):
    other, target = customer_signed_in(app, "leaving@example.com")
    target.addresses.append(
        Address(full_name="Leaving Person", line1="9 Exit Road", city="Cork", country="IE")
    )
    variant = factories.product("Stoneware Mug", price=1500, stock=5).variants[0]
    order = order_for([(variant, 1)], email=target.email)
    order.user_id = target.id
    commit_unit_of_work()
    admin = sign_in_staff(client, "admin")

    wrong = post(client, f"/admin/customers/{target.id}/anonymise", confirm_email="someone@else")
    assert wrong.status_code == 422
    assert "not this customer&#39;s email" in wrong.get_data(as_text=True)
    assert fresh(target.id).deleted_at is None

    ok = post(
        client, f"/admin/customers/{target.id}/anonymise", confirm_email="Leaving@Example.com "
    )
    assert ok.status_code == 302
    user = fresh(target.id)
    assert user.deleted_at is not None and user.email == f"deleted-{user.id}@invalid.example"
    assert user.name == "Deleted customer" and user.addresses == []
    from app.orders.models import Order

    kept = _db.session.get(Order, order.id)
    assert kept is not None and kept.user_id == user.id
    assert ("account.deleted", admin.id) in audit_actions(target.id)
    assert other.get("/account/profile").status_code == 302
    assert login(app.test_client(), "leaving@example.com").status_code != 302


def test_staff_accounts_cannot_be_anonymised(client, db):
    member = enrolled("member@example.com", "staff")
    sign_in_staff(client, "admin")
    response = post(
        client, f"/admin/customers/{member.id}/anonymise", confirm_email="member@example.com"
    )
    assert response.status_code == 422 and "Change the role first" in response.get_data(
        as_text=True
    )
    assert fresh(member.id).deleted_at is None


def test_detail_for_the_admin_themselves_offers_no_self_service_foot_guns(client, db):
    admin = sign_in_staff(client, "admin")
    html = client.get(f"/admin/customers/{admin.id}").get_data(as_text=True)
    assert "This is your own account" in html and "Deactivate account" not in html


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app):
    """Real commits and threads: whichever demotion runs second finds no other admin."""
    from app.accounts.models import Role, User
    from app.accounts.services import AccountError, change_role
    from app.db import unit_of_work
    from app.extensions import db as _db
    from tests.concurrency import run_at_once

    with app.app_context(), unit_of_work():
        others = _db.session.execute(
            sa.select(sa.func.count()).where(User.role == Role.ADMIN)
        ).scalar_one()
        assert others == 0  # the race only matters between the last two
        a = make_user("race-admin-a@example.com", role="admin")
        b = make_user("race-admin-b@example.com", role="admin")
        ids = [a.id, b.id]
    try:

        def demote(index: int) -> str:
            target, actor = ids[index], ids[1 - index]
            try:
                with unit_of_work():
                    change_role(_db.session.get(User, target), "customer", actor_id=actor)
            except AccountError:
                return "refused"
            return "demoted"

        outcomes = run_at_once(app, 2, demote)
        assert sorted(outcomes) == ["demoted", "refused"], outcomes
        with app.app_context():
            roles = _db.session.execute(sa.select(User.role).where(User.id.in_(ids))).scalars()
            assert sorted(roles) == ["admin", "customer"]
    finally:
        with app.app_context(), unit_of_work():
            from app.accounts.models import AuditEvent, UserSession

            _db.session.execute(sa.delete(AuditEvent).where(AuditEvent.target_user_id.in_(ids)))
            _db.session.execute(sa.delete(UserSession).where(UserSession.user_id.in_(ids)))
            _db.session.execute(sa.delete(User).where(User.id.in_(ids)))
