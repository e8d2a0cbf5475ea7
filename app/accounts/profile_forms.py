"""Shapes of profile, address, preference and deletion input. Rules live in profile.py."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    StringField,
    TelField,
)
from wtforms.validators import AnyOf, DataRequired, Email, Length, Optional

from app.accounts.profile import countries
from app.core.forms import SelectField


class PictureForm(FlaskForm):
    picture = FileField(
        "A new picture",
        validators=[FileRequired("Choose a picture to upload (JPEG, PNG, WebP or GIF).")],
        render_kw={"accept": "image/jpeg,image/png,image/webp,image/gif"},
    )


class ProfileForm(FlaskForm):
    name = StringField(
        "Your name",
        validators=[DataRequired("Enter your name."), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    phone = TelField(
        "Mobile phone (optional)",
        validators=[Optional(), Length(max=40, message="That is too long for a phone number.")],
        render_kw={"autocomplete": "tel"},
    )


class ChangeEmailForm(FlaskForm):
    new_email = EmailField(
        "New email address",
        validators=[
            DataRequired("Enter your new email address."),
            Length(max=320),
            Email("Enter an email address like name@example.com.", check_deliverability=False),
        ],
        render_kw={"autocomplete": "email"},
    )
    current_password = PasswordField(
        "Your password",
        validators=[DataRequired("Enter your password to confirm it is you.")],
        render_kw={"autocomplete": "current-password"},
    )


class AddressForm(FlaskForm):
    full_name = StringField(
        "Full name",
        validators=[Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    line1 = StringField(
        "Address line 1",
        validators=[Length(max=200)],
        render_kw={"autocomplete": "address-line1"},
    )
    line2 = StringField(
        "Address line 2 (optional)",
        validators=[Length(max=200)],
        render_kw={"autocomplete": "address-line2"},
    )
    city = StringField(
        "Town or city",
        validators=[Length(max=120)],
        render_kw={"autocomplete": "address-level2"},
    )
    region = StringField(
        "State, province or county",
        validators=[Length(max=120)],
        render_kw={"autocomplete": "address-level1"},
    )
    postal_code = StringField(
        "Postcode / ZIP code",
        validators=[Length(max=20)],
        render_kw={"autocomplete": "postal-code"},
    )
    country = SelectField(
        "Country",
        validate_choice=False,
        render_kw={"autocomplete": "country"},
    )
    phone = TelField(
        "Phone for delivery questions (optional)",
        validators=[Length(max=40, message="That is too long for a phone number.")],
        render_kw={"autocomplete": "tel"},
    )
    default_shipping = BooleanField("Use as my default shipping address")
    default_billing = BooleanField("Use as my default billing address")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = [SelectChoice(code, name) for code, name in countries()]

    def address_data(self) -> dict[str, str]:
        from app.accounts.addresses import ADDRESS_FIELDS

        return {name: self[name].data or "" for name in ADDRESS_FIELDS}


class DefaultAddressForm(FlaskForm):
    kind = StringField(validators=[AnyOf(["shipping", "billing"])])


class PreferencesForm(FlaskForm):
    email_transactional = BooleanField("Email: order and account updates")
    email_marketing = BooleanField("Email: news and offers")
    sms_transactional = BooleanField("SMS: order and account updates")
    sms_marketing = BooleanField("SMS: news and offers")
    whatsapp_transactional = BooleanField("WhatsApp: order and account updates")
    whatsapp_marketing = BooleanField("WhatsApp: news and offers")


class DeleteAccountForm(FlaskForm):
    current_password = PasswordField(
        "Your password",
        validators=[DataRequired("Enter your password to confirm it is you.")],
        render_kw={"autocomplete": "current-password"},
    )
    confirm = BooleanField(
        "I understand that my account, addresses and preferences will be deleted and "
        "this can't be undone",
        validators=[DataRequired("Tick the box to confirm that you want to delete your account.")],
    )
