"""Reviews: only buyers write them, staff moderate, approved ones show with the average,
distribution and "verified purchase" on the product, its card and its JSON-LD; the API is
the same door; customers who agreed are asked once, some days after delivery."""

import json
import re
from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import AuditEvent
from app.db import commit_unit_of_work, utcnow
from app.notifications.models import Notification
from app.notifications.services import set_preference
from app.orders.models import Order, OrderStatus
from app.reviews.models import Review, ReviewStatus
from app.reviews.tasks import ask_due
from tests.accounts.helpers import login, make_user
from tests.admin.helpers import csrf, sign_in_staff
from tests.api.helpers import bearer, tokens
from tests.catalog import factories
from tests.checkout.helpers import add_to_cart, pay, sandbox_action, submit_details, token


def buyer(client, product, email="grace@example.com", name="Grace Hopper"):
    user = make_user(email, name=name)
    commit_unit_of_work()
    login(client, email)
    add_to_cart(client, product.variants[0].id, 1)
    submit_details(client, email=email)
    sandbox_action(client, pay(client).headers["Location"], "pay")
    return user


def write(client, product, **data):
    page = f"/products/{product.slug}/review"
    return client.post(page, data={"csrf_token": token(client, page), **data})


def ld_of(html):
    """The page's Product JSON-LD (there is a BreadcrumbList too)."""
    found = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    return next(d for d in map(json.loads, found) if d["@type"] == "Product")


def test_only_buyers_review(client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    make_user("bob@example.com")
    commit_unit_of_work()
    login(client, "bob@example.com")
    page = client.get(f"/products/{mug.slug}/review")
    assert page.status_code == 403
    assert "Only customers who bought Speckled Mug can review it." in page.get_data(as_text=True)
    refused = write(client, mug, rating="5", title="Great", body="Lovely")
    assert refused.status_code == 403
    assert db.session.execute(sa.select(sa.func.count()).select_from(Review)).scalar() == 0


def test_a_buyers_review_shows_once_approved_with_the_rating_everywhere(app, client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    buyer(client, mug)
    sent = write(
        client, mug, rating="4", title="  Nice   mug ", body="Holds a lot.\r\nDishwasher safe."
    )
    assert sent.status_code == 303
    shown = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Your review of Speckled Mug will appear once our team has read it." in shown
    assert "No reviews yet." in shown  # not before staff read it
    review = db.session.execute(sa.select(Review)).scalar_one()
    assert (review.author_name, review.title, review.status) == (
        "Grace H.",
        "Nice mug",
        ReviewStatus.PENDING,
    )
    staff = app.test_client()
    sign_in_staff(staff)
    queue = staff.get("/admin/reviews").get_data(as_text=True)
    assert "Holds a lot." in queue and "Pending (1)" in queue
    staff.post(
        f"/admin/reviews/{review.id}/approve", data={"csrf_token": csrf(staff, "/admin/reviews")}
    )
    staff.post(
        f"/admin/reviews/{review.id}/reply",
        data={"csrf_token": csrf(staff, "/admin/reviews"), "reply": "Thank you, Grace!"},
    )
    page = client.get(f"/products/{mug.slug}").get_data(as_text=True)
    assert "4.0 out of 5</strong>, from 1 review" in page
    assert "Grace H." in page and "Verified purchase" in page and "Thank you, Grace!" in page
    assert "<p>Holds a lot.</p>" in page and "<p>Dishwasher safe.</p>" in page
    ld = ld_of(page)
    assert ld["aggregateRating"] == {
        "@type": "AggregateRating",
        "ratingValue": 4.0,
        "reviewCount": 1,
        "bestRating": 5,
        "worstRating": 1,
    }
    assert ld["review"][0]["author"] == {"@type": "Person", "name": "Grace H."}
    card = client.get("/products?q=speckled").get_data(as_text=True)
    assert '4.0<span class="visually-hidden"> out of 5</span> (1' in card
    actions = (
        db.session.execute(sa.select(AuditEvent.action).where(AuditEvent.action.like("review.%")))
        .scalars()
        .all()
    )
    assert actions == ["review.approved", "review.replied"]


def test_writing_again_edits_and_goes_back_to_moderation(app, client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    buyer(client, mug)
    write(client, mug, rating="5")
    review = db.session.execute(sa.select(Review)).scalar_one()
    review.status = ReviewStatus.APPROVED
    from app.reviews.services import refresh_summary

    refresh_summary(mug.id)
    commit_unit_of_work()
    assert write(client, mug, rating="2", body="Chipped after a week.").status_code == 303
    db.session.expire_all()
    assert db.session.execute(sa.select(sa.func.count()).select_from(Review)).scalar() == 1
    review = db.session.execute(sa.select(Review)).scalar_one()
    assert (review.rating, review.status) == (2, ReviewStatus.PENDING)
    assert (mug.rating_count, mug.rating_sum) == (0, 0)  # no longer shown, recounted


def test_hostile_reviews_are_form_errors(client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    buyer(client, mug)
    for data, message in (
        ({"rating": "7"}, "Not a valid choice"),
        ({"rating": "\u0665"}, "Not a valid choice"),
        ({}, "Choose a rating from 1 to 5 stars."),
        ({"rating": "5", "body": "x" * 4001}, "Keep the review to 4,000 characters."),
        ({"rating": "5", "title": "t" * 121}, "Keep the title to 120 characters."),
    ):
        response = write(client, mug, **data)
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), data
    assert db.session.execute(sa.select(sa.func.count()).select_from(Review)).scalar() == 0


def test_the_api_reads_and_writes_with_the_same_rules(client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    user = buyer(client, mug)
    headers = bearer(tokens(client, user.email)["access_token"])
    path = f"/api/v1/products/{mug.slug}/reviews"
    sent = client.post(path, json={"rating": 5, "title": "Perfect"}, headers=headers)
    assert sent.status_code == 202 and sent.get_json()["status"] == "pending"
    make_user("bob@example.com")
    commit_unit_of_work()
    bob = bearer(tokens(client, "bob@example.com")["access_token"])
    refused = client.post(path, json={"rating": 5}, headers=bob)
    assert refused.status_code == 403 and refused.get_json()["code"] == "review-not-bought"
    assert client.post(path, json={"rating": 6}, headers=headers).status_code == 422
    listed = client.get(path).get_json()
    assert (listed["count"], listed["items"]) == (0, [])  # pending is not shown


def test_customers_who_agreed_are_asked_once_after_delivery(client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    user = buyer(client, mug)
    set_preference(user.id, "email", "marketing", True)
    order = db.session.execute(sa.select(Order)).scalar_one()
    order.status = OrderStatus.DELIVERED
    order.delivered_at = utcnow() - timedelta(days=3)
    commit_unit_of_work()
    assert ask_due() == 0  # too soon
    order.delivered_at = utcnow() - timedelta(days=8)
    commit_unit_of_work()
    assert ask_due() == 1
    assert ask_due() == 0  # once per order
    [mail] = (
        db.session.execute(sa.select(Notification).where(Notification.template == "review-request"))
        .scalars()
        .all()
    )
    assert mail.category == "marketing"
    assert mail.variables["products"][0]["url"].endswith(f"/products/{mug.slug}/review")


def test_no_request_without_consent(client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    buyer(client, mug)
    order = db.session.execute(sa.select(Order)).scalar_one()
    order.status, order.delivered_at = OrderStatus.DELIVERED, utcnow() - timedelta(days=8)
    commit_unit_of_work()
    assert ask_due() == 0


def test_a_purchase_given_back_in_full_is_no_purchase(client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    buyer(client, mug)
    order = db.session.execute(sa.select(Order)).scalar_one()
    order.lines[0].quantity_refunded = order.lines[0].quantity
    commit_unit_of_work()
    assert write(client, mug, rating="5").status_code == 403


def test_a_refused_moderation_changes_nothing(app, client, db):
    mug = factories.product("Speckled Mug", price=1500, stock=5)
    commit_unit_of_work()
    buyer(client, mug)
    write(client, mug, rating="5")
    review = db.session.execute(sa.select(Review)).scalar_one()
    staff = app.test_client()
    sign_in_staff(staff)
    staff.post(
        f"/admin/reviews/{review.id}/reject",
        data={"csrf_token": csrf(staff, "/admin/reviews"), "note": "x" * 300},
    )
    db.session.expire_all()
    assert db.session.get(Review, review.id).status == ReviewStatus.PENDING
