"""Installs come from the lock files (requirements/*.txt, made by `make lock`), which must
satisfy pyproject.toml's ranges, pin everything with hashes, and be what is installed."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from app.file_storage import storage_from_config

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def pins(name: str) -> dict[str, list[tuple[str, str]]]:
    """{package: [(version, marker)]}; a package may have one pin per environment."""
    out: dict[str, list[tuple[str, str]]] = {}
    lines = (ROOT / "requirements" / name).read_text().splitlines()
    for number, line in enumerate(lines):
        match = PIN.match(line)
        if match:
            out.setdefault(canonicalize_name(match[1]), []).append((match[2], match[3] or ""))
            assert lines[number + 1].strip().startswith("--hash=sha256:"), line
    return out


def version_here(locked: list[tuple[str, str]]) -> str | None:
    for version, marker in locked:
        if not marker or Requirement(f"x; {marker}").marker.evaluate(default_environment()):
            return version
    return None


def requirements(*extras: str) -> list[Requirement]:
    reqs = [Requirement(r) for r in PROJECT["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in PROJECT["optional-dependencies"][extra]]
    return [r for r in reqs if canonicalize_name(r.name) != "shopsphere"]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("app.txt", ()), ("app-s3.txt", ("s3",)), ("dev.txt", ("dev", "s3"))],
)
def test_each_lock_satisfies_pyproject(lock, extras):
    locked = pins(lock)
    for req in requirements(*extras):
        version = version_here(locked.get(canonicalize_name(req.name), []))
        assert version is not None, f"{req.name} is not in requirements/{lock}: run make lock"
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements/{lock} pins {req.name}=={version} outside {req.specifier}: run make lock"
        )


def test_s3_client_and_test_tools_stay_out_of_the_app_lock():
    app_lock = pins("app.txt")
    for package in ("boto3", "pytest", "playwright", "moto", "uv"):
        assert package not in app_lock, package
    assert "boto3" in pins("app-s3.txt")


def test_versions_in_use_are_the_locked_ones():
    """`make install-dev` installs from requirements/dev.txt, not from the ranges."""
    for package, locked in pins("dev.txt").items():
        version = version_here(locked)
        if version is None:
            continue  # another platform's package
        assert metadata.version(package) == version, f"{package}: run make install-dev"


def test_s3_storage_without_boto3_says_how_to_install_it(monkeypatch):
    import importlib.util

    from app.file_storage import ConfigError

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "boto3" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"shopsphere\[s3\]"):
        storage_from_config({"STORAGE_BACKEND": "s3", "S3_BUCKET": "media"})
