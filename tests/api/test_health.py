"""Liveness, readiness and the one error format."""

from market.app import YOUNG_OBJECTS
from tests.factories import create_listing


async def test_health_is_alive(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_both_services(client):
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "postgres": "ok", "meilisearch": "ok", "text": "ok",
                               "outbox_pending": 0, "index_lag_seconds": 0.0, "outbox": []}


async def test_ready_and_the_backlog_say_how_far_the_workers_lag(client, market, app, sync):
    uni = await market.organisation("university")
    listing = await create_listing(market, "achievements", uni)
    operator = await market.operator()
    ready = (await client.get("/ready")).json()
    assert ready["status"] == "ok" and ready["outbox_pending"] >= 1 and ready["index_lag_seconds"] >= 0
    assert {e["aggregate_type"] for e in ready["outbox"]} >= {"achievement"}
    backlog = (await client.get("/v1/ops/backlog", headers=operator.headers)).json()
    assert {(e["aggregate_type"], e["topic"]) for e in backlog["entries"]} >= {("achievement", "achievement.created")}
    status = (await client.get(f"/v1/achievements/{listing['id']}/sync-status")).json()
    assert status["current"] is False and status["index_current"] is False and status["pending_events"] >= 1

    strict = app.state.settings.model_copy(update={"outbox_lag_degraded_seconds": -1})
    app.state.settings, original = strict, app.state.settings
    try:
        degraded = await client.get("/ready")
    finally:
        app.state.settings = original
    assert degraded.status_code == 200 and degraded.json()["status"] == "degraded"

    await sync()
    status = (await client.get(f"/v1/achievements/{listing['id']}/sync-status")).json()
    assert status["current"] is True and status["pending_events"] == 0 and status["last_processed_at"]
    assert (await client.get("/v1/ops/backlog", headers=operator.headers)).json()["pending"] == 0


async def test_not_ready_until_the_segmenter_and_thesaurus_are_loaded(settings, monkeypatch):
    import threading

    import httpx

    from market import app as application

    loaded = threading.Event()
    monkeypatch.setattr(application, "load_text", lambda: loaded.wait(30))  # a slow first load
    fresh = application.create_app(settings)
    async with fresh.router.lifespan_context(fresh):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fresh), base_url="http://test") as client:
            loading = await client.get("/ready")
            assert loading.status_code == 503 and loading.json()["text"] == "loading"
            assert (await client.get("/health")).status_code == 200  # alive meanwhile
            loaded.set()
            await fresh.state.text_loading
            ready = (await client.get("/ready")).json()
            assert (ready["status"], ready["text"]) == ("ok", "ok")


async def test_the_segmenter_is_loaded_at_start(app):
    from services import text

    assert text._extractor is not None and app.state.text_loaded


async def test_what_is_loaded_at_start_is_out_of_the_collectors_reach(app):
    """A full collection walking the segmenter's dictionary and the thesaurus paused every request for
    ~120 ms: they are frozen once loaded."""
    import gc

    from services.text import default_thesaurus

    thesaurus = default_thesaurus()
    assert app.state.text_loaded and gc.is_tracked(thesaurus)
    assert not any(found is thesaurus for found in gc.get_objects())  # the collector lists no frozen object
    # A young collection every 700 new objects ran twice a live match: a request's objects mostly die with it.
    assert gc.get_threshold()[0] == YOUNG_OBJECTS > 700


async def test_every_response_carries_a_request_id(client):
    response = await client.get("/health", headers={"X-Request-ID": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    assert len((await client.get("/health")).headers["x-request-id"]) == 16


async def test_unknown_path_is_problem_json(client):
    response = await client.get("/nonexistent")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "not_found" and body["status"] == 404 and body["title"] == "Not Found"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_unexpected_error_is_500_problem_without_internals(app, monkeypatch, caplog):
    import httpx

    from services.identity import access as identity

    async def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(identity, "get_organisation", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/v1/organisations/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "internal_error" and "secret" not in response.text and "Traceback" not in response.text
    assert body["request_id"] == response.headers["x-request-id"]
    logged = [r for r in caplog.records if r.name == "market.errors"]
    assert logged and logged[0].exc_info and "secret internal detail" in caplog.text
    assert logged[0].request_id == body["request_id"]


async def test_failed_write_is_logged_without_its_values(client, monkeypatch, caplog):
    """A statement PostgreSQL refuses names the row's values in its error (DETAIL: Failing row
    contains …); neither they nor the statement's parameters reach the log."""
    from sqlalchemy import text

    from services.identity import access as identity

    secret = "argon2-hash-of-someones-password-7f3a9c"

    async def failing_write(session, org_id):
        await session.execute(text("INSERT INTO organisation (id, kind, name) VALUES (gen_random_uuid(), NULL, :n)"),
                              {"n": secret})

    monkeypatch.setattr(identity, "get_organisation", failing_write)
    response = await client.get("/v1/organisations/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 500 and response.json()["code"] == "internal_error"
    assert response.headers["connection"] == "close"  # the client does not reuse a connection after a bug
    logged = [r for r in caplog.records if r.name == "market.errors"]
    assert logged and "NotNullViolation" in caplog.text
    assert secret not in caplog.text and secret not in response.text
