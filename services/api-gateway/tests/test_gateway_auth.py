"""Authentication as the Airflow UI and clients expect it: cookie or bearer, the
exact 401/403 bodies the UI reacts to, the login/logout redirects, and the
capability check that answers 403 before any service is asked."""

from __future__ import annotations

from leoflow_common.auth import TaskScope, TokenCodec


async def test_the_ui_authenticates_with_the_token_cookie(offline, token_for, contract):
    offline.cookies.set("_token", token_for("Viewer", username="vera"))
    response = await offline.get("/ui/auth/me")
    assert response.status_code == 200
    assert response.json() == {"id": "vera", "username": "vera"}
    contract.validate("AuthenticatedMeResponse", response.json(), spec="ui")


async def test_clients_authenticate_with_a_bearer_header_which_wins_over_the_cookie(offline, token_for):
    offline.cookies.set("_token", "not-a-jwt")
    response = await offline.get("/ui/auth/me", headers={"Authorization": f"Bearer {token_for(username='bob')}"})
    assert response.status_code == 200 and response.json()["username"] == "bob"


async def test_no_credentials_is_401_not_authenticated(offline):
    response = await offline.get("/api/v2/dags")
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


async def test_an_expired_token_is_401_token_expired_and_the_cookie_is_cleared(offline, token_for):
    offline.cookies.set("_token", token_for(ttl=-3600))
    response = await offline.get("/ui/config")
    assert response.status_code == 401
    assert response.json() == {"detail": "Token Expired"}
    assert '_token=""' in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]


async def test_a_token_that_does_not_verify_is_403_invalid_jwt_token(offline):
    forged = TokenCodec("some-other-secret-0123456789abcdefghij").mint_user("mallory", "default", ["Admin"])
    for token in (forged, "garbage"):
        response = await offline.get("/ui/config", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403
        assert response.json() == {"detail": "Invalid JWT token"}
        # A bearer token is the client's own business: no cookie is touched.
        assert "set-cookie" not in response.headers


async def test_agent_tokens_are_not_accepted_by_the_rest_api(offline, jwt_secret):
    codec = TokenCodec(jwt_secret, agent_secret="agent-secret-0123456789abcdefghijklmn")
    scope = TaskScope(dag_id="d", run_id="r", task_id="t", map_index=-1, try_number=1, execution_name="x")
    agent_token = codec.mint_agent("default", scope)
    response = await offline.get("/ui/config", headers={"Authorization": f"Bearer {agent_token}"})
    assert response.status_code == 403


async def test_a_viewer_may_read_but_not_trigger(offline, token_for):
    offline.cookies.set("_token", token_for("Viewer"))
    assert (await offline.get("/ui/config")).status_code == 200
    # Refused at the route, before the (unreachable) scheduler is called: 403, not 503.
    response = await offline.post("/api/v2/dags/etl/dagRuns", json={"logical_date": None})
    assert response.status_code == 403
    assert response.json() == {"detail": "Forbidden"}
    response = await offline.patch("/api/v2/dags/etl", json={"is_paused": True})
    assert response.status_code == 403


async def test_a_user_without_any_role_is_forbidden_everywhere(offline, token_for):
    offline.cookies.set("_token", token_for(""))
    response = await offline.get("/api/v2/dags")
    assert response.status_code == 403 and response.json() == {"detail": "Forbidden"}


async def test_public_routes_need_no_credentials(offline, contract):
    version = await offline.get("/api/v2/version")
    assert version.status_code == 200
    assert version.json() == {"version": "3.2.2", "git_version": None}
    contract.validate("VersionInfo", version.json())
    health = await offline.get("/api/v2/monitor/health")
    assert health.status_code == 200
    contract.validate("HealthInfoResponse", health.json(), extensions=("xcom", "logs"))


async def test_login_redirects_to_the_login_page_keeping_next(offline):
    response = await offline.get("/api/v2/auth/login", params={"next": "/dags/etl?tab=grid"})
    assert response.status_code == 307
    assert response.headers["location"] == "/auth/login?next=%2Fdags%2Fetl%3Ftab%3Dgrid"
    bare = await offline.get("/api/v2/auth/login")
    assert bare.status_code == 307 and bare.headers["location"] == "/auth/login"


async def test_login_refuses_a_next_that_leaves_the_site(offline):
    for target in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/\\evil.example"):
        response = await offline.get("/api/v2/auth/login", params={"next": target})
        assert response.status_code == 400, target
        assert response.json() == {"detail": "Invalid or unsafe next URL"}
    same_origin = await offline.get("/api/v2/auth/login", params={"next": "http://gateway.test/dags"})
    assert same_origin.status_code == 307


async def test_under_a_base_url_the_redirects_and_next_stay_under_it(gateway_client, make_settings):
    client = gateway_client(make_settings(base_url="/airflow"))
    response = await client.get("/airflow/api/v2/auth/login", params={"next": "/airflow/dags"})
    assert response.status_code == 307
    assert response.headers["location"] == "/airflow/auth/login?next=%2Fairflow%2Fdags"
    outside = await client.get("/airflow/api/v2/auth/login", params={"next": "/elsewhere"})
    assert outside.status_code == 400


async def test_logout_clears_the_cookie_and_goes_to_the_login_page(offline, token_for):
    offline.cookies.set("_token", token_for())
    response = await offline.get("/api/v2/auth/logout")
    assert response.status_code == 307
    assert response.headers["location"] == "/auth/login"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith('_token="";') and "Max-Age=0" in cookie and "Path=/" in cookie


async def test_the_token_endpoint_validates_its_body_before_asking_the_scheduler(offline, contract):
    missing = await offline.post("/auth/token", json={"username": "alice"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "password"]
    empty = await offline.post("/auth/token", json={"username": "alice", "password": ""})
    assert empty.status_code == 400
    assert empty.json() == {"detail": "Username and password must be provided"}
    form_missing = await offline.post("/auth/token", data={"username": "alice"})
    assert form_missing.status_code == 422
    wrong_type = await offline.post("/auth/token", content=b"alice:pw", headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415
    assert (await offline.get("/auth/token")).status_code == 403


async def test_menus_list_only_served_pages_the_role_may_use(offline, token_for, contract):
    offline.cookies.set("_token", token_for("Viewer"))
    response = await offline.get("/ui/auth/menus")
    assert response.status_code == 200
    contract.validate("MenuItemCollectionResponse", response.json(), spec="ui")
    # Connections and Variables need Op (Airflow's simple auth manager); Leoflow has no
    # assets, jobs or human-in-the-loop tasks, so those pages are not offered.
    assert response.json() == {
        "authorized_menu_items": ["Audit Log", "Config", "Dags", "Docs", "Plugins", "Pools", "Providers", "XComs"],
        "extra_menu_items": [],
    }
