import subprocess
import sys
from pathlib import Path

import pytest

from app.config import DEV_SECRET_KEY, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
GOOD_PRODUCTION = {
    "SHOP_ENV": "production",
    "SECRET_KEY": "k" * 48,
    "DATABASE_URL": "postgres://shop@db/shop",
    "REDIS_URL": "redis://cache:6379/0",
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "MAIL_BACKEND": "smtp",
    "SHOP_BASE_URL": "https://shop.example",
}


def test_development_defaults_are_embedded(tmp_path):
    cfg = load_config({"SHOP_INSTANCE_DIR": str(tmp_path)})
    assert cfg["SHOP_ENV"] == "development"
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/shop.db"
    assert cfg["RATELIMIT_STORAGE_URI"] == "memory://"
    assert cfg["HUEY_SQLITE_PATH"] == f"{tmp_path}/huey.db"
    assert cfg["MAIL_BACKEND"] == "outbox"
    assert cfg["PAYMENT_PROVIDER"] == "sandbox"
    assert cfg["SESSION_COOKIE_SECURE"] is False


def test_production_uses_postgres_via_psycopg3_and_shared_redis():
    cfg = load_config(GOOD_PRODUCTION)
    assert cfg["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://shop@db/shop"
    assert cfg["RATELIMIT_STORAGE_URI"] == "redis://cache:6379/0"
    assert cfg["SESSION_COOKIE_SECURE"] and cfg["HSTS_ENABLED"]
    assert cfg["SESSION_COOKIE_NAME"] == "__Host-session"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": DEV_SECRET_KEY}, "development default"),
        ({"SECRET_KEY": "short"}, "shorter than 32"),
        ({"FLASK_DEBUG": "1"}, "FLASK_DEBUG"),
        ({"DATABASE_URL": ""}, "PostgreSQL, not SQLite"),
        ({"REDIS_URL": ""}, "REDIS_URL is not set"),
        ({"PAYMENT_PROVIDER": "sandbox"}, "sandbox is for development only"),
        ({"STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET"),
        ({"MAIL_BACKEND": "outbox"}, "production delivers email"),
        ({"SHOP_BASE_URL": "http://shop.example"}, "SHOP_BASE_URL must be"),
        ({"SHOP_ENV": "staging"}, "SHOP_ENV must be one of"),
    ],
)
def test_production_refuses_unsafe_settings(change, message):
    with pytest.raises(ConfigError, match=message):
        load_config({**GOOD_PRODUCTION, **change})


def test_starting_production_without_secret_key_fails_fast_with_one_line(tmp_path):
    env = {"SHOP_ENV": "production", "PATH": "/usr/bin:/bin", "SHOP_INSTANCE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "ShopSphere cannot start: SECRET_KEY is not set; generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    ]


def test_bad_numbers_in_the_environment_are_named():
    with pytest.raises(ConfigError, match="MAX_CONTENT_LENGTH must be a whole number"):
        load_config({"MAX_CONTENT_LENGTH": "lots"})
