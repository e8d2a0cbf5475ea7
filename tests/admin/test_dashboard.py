import pytest

from app.db import commit_unit_of_work
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import enrolled, sign_in_with_code
from tests.catalog import factories


def test_anonymous_and_customers_get_404(client, db):
    assert client.get("/admin/").status_code == 404
    make_user("shopper@example.com")
    login(client, "shopper@example.com")
    assert client.get("/admin/").status_code == 404


def test_staff_without_two_factor_are_sent_to_enrol(client, db):
    make_user("staff@example.com", role="staff")
    first = login(client, "staff@example.com")
    assert first.headers["Location"] == "/account/two-factor"
    response = client.get("/admin/")
    assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor"


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_enrolled_staff_see_the_dashboard_with_low_stock(client, db, role):
    factories.product("Nearly Gone Lamp", stock=2)
    factories.product("Plenty Mugs", stock=50)
    commit_unit_of_work()
    user = enrolled(f"{role}@example.com", role)
    assert sign_in_with_code(client, user).status_code == 302
    html = client.get("/admin/").get_data(as_text=True)
    assert "Staff dashboard" in html and "Nearly Gone Lamp" in html
    assert "Plenty Mugs" not in html
    assert ("<code>refunds.issue</code>" in html) is (role == "admin")
