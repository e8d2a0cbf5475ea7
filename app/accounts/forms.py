"""Shapes of account input. Rules (policy, uniqueness, lockout) live in the services."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

EMAIL = [
    DataRequired("Enter your email address."),
    Length(max=320),
    Email("Enter an email address like name@example.com.", check_deliverability=False),
]


class SignupForm(FlaskForm):
    name = StringField(
        "Your name",
        validators=[DataRequired("Enter your name."), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField("Email", validators=EMAIL, render_kw={"autocomplete": "email"})
    password = PasswordField(
        "Password",
        validators=[DataRequired("Choose a password.")],
        render_kw={"autocomplete": "new-password"},
    )


class LoginForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[DataRequired("Enter your email address."), Length(max=320)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Enter your password.")],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me signed in on this device")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=EMAIL, render_kw={"autocomplete": "email"})


class SignInLinkForm(FlaskForm):
    email = EmailField("Email", validators=EMAIL, render_kw={"autocomplete": "email"})


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a password.")],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a password.")],
        render_kw={"autocomplete": "new-password"},
    )


class EmptyForm(FlaskForm):
    """Buttons that post (sign out, resend): CSRF token only."""
