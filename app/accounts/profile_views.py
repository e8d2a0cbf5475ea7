"""Profile and email, address book, notification preferences and account deletion."""

from __future__ import annotations

import logging
import re

from flask import abort, current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from app.accounts import bp
from app.accounts.addresses import (
    add_address,
    calling_code_hint,
    count_addresses,
    delete_address,
    get_address_for_user_or_404,
    list_addresses,
    postcode_name,
    region_label,
    set_default_address,
    update_address,
)
from app.accounts.forms import EmptyForm
from app.accounts.models import User
from app.accounts.pictures import ImageRejected, picture_url, remove_picture, set_picture
from app.accounts.profile import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    MAX_ADDRESSES,
    FieldErrors,
    country_name,
    current_preferences,
    default_region,
    delete_account,
    request_email_change,
    save_preferences,
    update_profile,
)
from app.accounts.profile_forms import (
    AddressForm,
    ChangeEmailForm,
    DefaultAddressForm,
    DeleteAccountForm,
    PictureForm,
    PreferencesForm,
    ProfileForm,
)
from app.accounts.services import AccountError
from app.extensions import limiter
from app.file_storage import StorageError
from app.notifications.services import LOCKED
from app.ratelimit import ACCOUNT_SECRETS_LIMIT, ACCOUNT_SECRETS_SCOPE, account_key

log = logging.getLogger(__name__)
INVALID = 422  # a re-rendered form with errors: nothing is stored (the request rolls back)
CARD_ID = re.compile(r"[A-Za-z0-9_]{1,64}")  # a provider's payment method id (pm_…)


def _me() -> User:
    return current_user._get_current_object()


def _attach(form: FlaskForm, exc: AccountError) -> None:
    """Show a service's complaint next to the field it is about (or above the form)."""
    if isinstance(exc, FieldErrors):
        for name, message in exc.errors.items():
            if name in form:
                form[name].errors = [*form[name].errors, message]
            else:
                form.form_errors.append(message)
    else:
        form.form_errors.append(str(exc))


# --- Profile and email -----------------------------------------------------------------


def _render_profile(
    profile_form: ProfileForm,
    email_form: ChangeEmailForm,
    status: int = 200,
    picture_form: PictureForm | None = None,
):
    return render_template(
        "accounts/profile.html",
        form=profile_form,
        email_form=email_form,
        picture_form=picture_form or PictureForm(formdata=None),
        picture_url=picture_url(_me(), "medium"),
        max_picture_mb=round(current_app.config["MAX_PICTURE_BYTES"] / (1024 * 1024), 1),
        empty=EmptyForm(),
        calling_code=calling_code_hint(default_region()),
    ), status


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> tuple[str, int] | Response:
    user = _me()
    form = ProfileForm(obj=user)
    if form.validate_on_submit():
        try:
            update_profile(user, name=form.name.data or "", phone=form.phone.data or "")
        except FieldErrors as exc:
            _attach(form, exc)
        else:
            flash("Your profile was saved.", "success")
            return redirect(url_for("accounts.profile"))
        return _render_profile(form, ChangeEmailForm(formdata=None), INVALID)
    return _render_profile(
        form, ChangeEmailForm(formdata=None), INVALID if form.is_submitted() else 200
    )


@bp.post("/profile/picture", endpoint="change_picture")
@login_required
@limiter.limit("10 per minute")
def change_picture() -> tuple[str, int] | Response:
    user = _me()
    form = PictureForm()
    if form.validate_on_submit():
        try:
            set_picture(user, form.picture.data.read(current_app.config["MAX_PICTURE_BYTES"] + 1))
        except ImageRejected as exc:
            form.picture.errors = [str(exc)]
        except StorageError:
            log.warning("profile picture of account %s not stored", user.id, exc_info=True)
            form.picture.errors = ["Your picture could not be stored just now. Please try again."]
        else:
            flash("Your profile picture was changed.", "success")
            return redirect(url_for("accounts.profile"), code=303)
    profile_form = ProfileForm(obj=user, formdata=None)
    return _render_profile(profile_form, ChangeEmailForm(formdata=None), INVALID, form)


@bp.post("/profile/picture/remove", endpoint="remove_picture")
@login_required
def remove_picture_view() -> Response:
    if not EmptyForm().validate_on_submit():
        abort(400)
    if remove_picture(_me()):
        flash("Your profile picture was removed.", "success")
    return redirect(url_for("accounts.profile"), code=303)


@bp.post("/profile/email", endpoint="change_email")
@login_required
@limiter.shared_limit(ACCOUNT_SECRETS_LIMIT, ACCOUNT_SECRETS_SCOPE, key_func=account_key)
def change_email() -> tuple[str, int] | Response:
    user = _me()
    form = ChangeEmailForm()
    if form.validate_on_submit():
        try:
            new_email = request_email_change(
                user, password=form.current_password.data or "", new_email=form.new_email.data
            )
        except AccountError as exc:
            _attach(form, exc)
        else:
            flash(
                f"We sent a link to {new_email}. Your email address changes when you open it; "
                f"until then you keep signing in with {user.email}.",
                "success",
            )
            return redirect(url_for("accounts.profile"))
    return _render_profile(ProfileForm(formdata=None, obj=user), form, INVALID)


# --- Address book ----------------------------------------------------------------------


def _address_page(form: AddressForm, address=None, status: int = 200) -> tuple[str, int]:
    country = form.country.data or default_region()
    form.region.label.text = region_label(country)
    if country in ("US", "GB", "IE"):
        name = postcode_name(country)
        form.postal_code.label.text = name[0].upper() + name[1:]
    return render_template("accounts/address_form.html", form=form, address=address), status


@bp.get("/addresses")
@login_required
def addresses() -> str:
    user = _me()
    rows = list_addresses(user.id)
    return render_template(
        "accounts/addresses.html",
        addresses=rows,
        empty=EmptyForm(),
        can_add=len(rows) < MAX_ADDRESSES,
        max_addresses=MAX_ADDRESSES,
        country_name=country_name,
    )


@bp.route("/addresses/new", methods=["GET", "POST"])
@login_required
def new_address() -> tuple[str, int] | Response:
    user = _me()
    form = AddressForm()
    if not form.is_submitted():
        if count_addresses(user.id) >= MAX_ADDRESSES:
            flash(
                f"You can keep up to {MAX_ADDRESSES} addresses. Delete one you no longer need "
                "to add another.",
                "warning",
            )
            return redirect(url_for("accounts.addresses"))
        form.country.data = default_region()
        form.full_name.data = user.name
        return _address_page(form)
    if form.validate_on_submit():
        try:
            add_address(
                user,
                form.address_data(),
                default_shipping=bool(form.default_shipping.data),
                default_billing=bool(form.default_billing.data),
            )
        except AccountError as exc:
            _attach(form, exc)
        else:
            flash("The address was added to your address book.", "success")
            return redirect(url_for("accounts.addresses"))
    return _address_page(form, status=INVALID)


@bp.route("/addresses/<int:address_id>/edit", methods=["GET", "POST"])
@login_required
def edit_address(address_id: int) -> tuple[str, int] | Response:
    user = _me()
    address = get_address_for_user_or_404(user.id, address_id)
    form = AddressForm(obj=address)
    if not form.is_submitted():
        return _address_page(form, address)
    if form.validate_on_submit():
        try:
            update_address(
                user,
                address,
                form.address_data(),
                default_shipping=bool(form.default_shipping.data),
                default_billing=bool(form.default_billing.data),
            )
        except AccountError as exc:
            _attach(form, exc)
        else:
            flash("The address was saved.", "success")
            return redirect(url_for("accounts.addresses"))
    return _address_page(form, address, INVALID)


@bp.post("/addresses/<int:address_id>/delete", endpoint="delete_address")
@login_required
def delete_address_view(address_id: int) -> Response:
    user = _me()
    address = get_address_for_user_or_404(user.id, address_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    delete_address(user, address)
    flash("The address was deleted.", "success")
    return redirect(url_for("accounts.addresses"))


@bp.post("/addresses/<int:address_id>/default", endpoint="set_default_address")
@login_required
def set_default_address_view(address_id: int) -> Response:
    user = _me()
    address = get_address_for_user_or_404(user.id, address_id)
    form = DefaultAddressForm()
    if not form.validate_on_submit():
        abort(400)
    set_default_address(user, address, form.kind.data)
    flash(f"This is now your default {form.kind.data} address.", "success")
    return redirect(url_for("accounts.addresses"))


# --- Notification preferences ----------------------------------------------------------


@bp.route("/preferences", methods=["GET", "POST"])
@login_required
def preferences() -> tuple[str, int] | Response:
    user = _me()
    form = PreferencesForm()
    status = 200
    if form.validate_on_submit():
        choices: dict[tuple[str, str], bool] = {
            (channel, category): bool(form[f"{channel}_{category}"].data)
            for channel in CHANNEL_LABELS
            for category in CATEGORY_LABELS
        }
        try:
            save_preferences(user, choices)
        except AccountError as exc:
            _attach(form, exc)
            status = INVALID
        else:
            flash("Your notification preferences were saved.", "success")
            return redirect(url_for("accounts.preferences"))
    elif form.is_submitted():
        status = INVALID
    else:
        for (channel, category), enabled in current_preferences(user).items():
            form[f"{channel}_{category}"].data = enabled
    for channel, category in LOCKED:
        form[f"{channel}_{category}"].data = True
    return render_template(
        "accounts/preferences.html",
        form=form,
        channels=CHANNEL_LABELS,
        categories=CATEGORY_LABELS,
        locked={f"{channel}_{category}" for channel, category in LOCKED},
    ), status


# --- Account deletion ------------------------------------------------------------------


@bp.route("/delete", methods=["GET", "POST"], endpoint="delete_account")
@login_required
@limiter.shared_limit(
    ACCOUNT_SECRETS_LIMIT, ACCOUNT_SECRETS_SCOPE, key_func=account_key, methods=["POST"]
)
def delete_account_view() -> tuple[str, int] | Response:
    user = _me()
    form = DeleteAccountForm()
    if form.validate_on_submit():
        try:
            delete_account(user, password=form.current_password.data or "")
        except AccountError as exc:
            _attach(form, exc)
        else:
            logout_user()
            session.clear()
            flash(
                "Your account was deleted. Thank you for shopping with us.",
                "info",
            )
            return redirect(url_for("catalog.home"))
    status = INVALID if form.is_submitted() else 200
    return render_template("accounts/delete.html", form=form), status


# --- Saved cards (kept at the payment provider) ------------------------------------------


@bp.get("/cards")
@login_required
def saved_cards_page() -> str:
    from app.payments.customers import saved_cards

    listed = saved_cards(_me().id)
    return render_template(
        "accounts/cards.html", cards=listed.cards, unavailable=listed.unavailable
    )


@bp.post("/cards/<card_id>/remove", endpoint="remove_card")
@login_required
@limiter.limit("20 per minute")
def remove_card_view(card_id: str) -> Response:
    from app.payments.customers import CardNotFound, remove_card
    from app.payments.types import PaymentError

    if not EmptyForm().validate_on_submit():
        abort(400)
    if not CARD_ID.fullmatch(card_id):
        abort(404)
    try:
        card = remove_card(_me().id, card_id)
    except CardNotFound:
        flash("That card is not saved in your account (it may have been removed already).", "info")
    except PaymentError:
        flash(
            "Your saved cards can't be changed right now. Nothing was removed; please try "
            "again in a few minutes.",
            "error",
        )
    else:
        flash(
            f"Removed the {card.brand.title()} card ending in {card.last4}. It can no longer "
            "be used to pay here.",
            "success",
        )
    return redirect(url_for("accounts.saved_cards_page"), code=303)
