"""The OpenAPI document passes Redocly's recommended ruleset: the linter that API portals,
gateways and generators are checked with. Redocly CLI is pinned in tools/openapi-lint
(package-lock.json) and installed by `make test` from the npm registry."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REDOCLY = Path(__file__).resolve().parents[2] / "tools/openapi-lint/node_modules/.bin/redocly"


def test_redocly_recommended_rules_find_nothing(app, client, tmp_path, monkeypatch):
    assert REDOCLY.exists(), "run `make test` (it installs tools/openapi-lint with npm ci)"
    monkeypatch.setitem(app.config, "SHOP_BASE_URL", "https://shop.test")  # a public address
    spec = tmp_path / "openapi.json"
    spec.write_text(client.get("/api/v1/openapi.json").get_data(as_text=True))
    result = subprocess.run(
        [str(REDOCLY), "lint", "--extends=recommended", "--format=json", str(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "REDOCLY_TELEMETRY": "off",
            "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
        },
    )
    report = json.loads(result.stdout)
    problems = [
        (p["ruleId"], p["severity"], p["location"][0]["pointer"], p["message"])
        for p in report["problems"]
    ]
    assert problems == []
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}
