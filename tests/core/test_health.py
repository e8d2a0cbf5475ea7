def test_healthz_is_ok_without_io(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"] == "ok"


def test_readyz_is_503_naming_the_database_when_it_is_unreachable(make_app, tmp_path):
    unreachable = f"sqlite:///{tmp_path}/missing-dir/never/shop.db"
    app = make_app(unreachable, REDIS_URL=None, RATELIMIT_STORAGE_URI="memory://")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "fail"
    assert "missing-dir" not in response.get_data(as_text=True)
    # Liveness does no I/O and stays green.
    assert app.test_client().get("/healthz").status_code == 200


DOWN = "redis://127.0.0.1:1/0"


def test_readyz_names_each_redis_store_that_is_down(make_app):
    app = make_app(
        REDIS_URL=DOWN,
        RATELIMIT_STORAGE_URI=DOWN,
        RATELIMIT_STORAGE_OPTIONS={},
        CACHE_TYPE="RedisCache",
        CACHE_REDIS_URL=DOWN,
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {
        "database": "ok",
        "rate_limits": "fail",
        "cache": "fail",
        "queue": "fail",
    }


def test_readyz_names_only_the_store_that_fails(make_app):
    app = make_app(REDIS_URL=DOWN, RATELIMIT_STORAGE_URI="memory://", CACHE_TYPE="SimpleCache")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "ok", "queue": "fail"}
