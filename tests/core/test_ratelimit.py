import logging


def test_limit_breach_renders_the_429_page(client):
    for _ in range(3):
        assert client.get("/__test/limited").status_code == 200
    response = client.get("/__test/limited")
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    assert "Too many requests" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0


def test_api_limit_breach_is_problem_json(client):
    assert [client.get("/api/v1/__test/limited").status_code for _ in range(2)] == [200, 200]
    response = client.get("/api/v1/__test/limited")
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "too-many-requests"
    assert "Retry-After" in response.headers


def test_unreachable_redis_falls_back_to_per_process_limits(make_app, caplog):
    caplog.set_level(logging.WARNING)
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    client = app.test_client()
    statuses = [client.get("/__test/limited").status_code for _ in range(5)]
    # Limits still apply (in memory), they did not switch off, and the outage is logged.
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    assert any("falling back to in-memory" in r.getMessage() for r in caplog.records)


def test_rate_limit_headers_are_sent(client):
    response = client.get("/__test/limited")
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "2"
