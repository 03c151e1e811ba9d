"""Authentication, roles, token lifecycle, rate and size limits, error format, CLI."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from ioc.cli import cli
from tests.api.conftest import A


def test_missing_invalid_expired_and_revoked_tokens_are_401(client, world, tokens, db):
    r = client.get("/api/v1/devices")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "missing bearer token" in r.json()["detail"]
    r = client.get("/api/v1/devices", headers={"Authorization": "Bearer ioc_nope"})
    assert r.status_code == 401 and r.json()["detail"] == "invalid or revoked token"
    db.execute(
        "UPDATE ioc_auth.tokens t SET expires_at = now() - interval '1 second' "
        "FROM ioc_auth.users u WHERE u.id = t.user_id AND u.name = 'operator'"
    )
    r = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {tokens['operator']}"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    r = client.post(
        "/api/v1/users/tech/revoke", headers={"Authorization": f"Bearer {tokens['admin']}"}
    )
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {tokens['tech']}"})
    assert r.status_code == 401


def test_rotation_revokes_the_old_token(client, world, tokens, as_user):
    r = client.post("/api/v1/users/op_a/rotate", json={"expires_days": 1}, headers=as_user("admin"))
    assert r.status_code == 200, r.text
    new = r.json()["token"]
    assert r.json()["expires_at"].endswith("+00:00")
    assert client.get("/api/v1/devices", headers=as_user("op_a")).status_code == 401
    r = client.get("/api/v1/devices", headers={"Authorization": f"Bearer {new}"})
    assert r.status_code == 200 and {d["commune_code"] for d in r.json()["data"]} == {A}


def test_tokens_are_stored_hashed(db, tokens):
    stored = [bytes(r[0]) for r in db.execute("SELECT token_hash FROM ioc_auth.tokens")]
    assert len(stored) == len(tokens)
    for token in tokens.values():
        assert token.encode() not in stored
        assert all(token.encode() not in h for h in stored)


def test_roles_get_403(client, world, as_user):
    alert = world.alerts["a_warn"]
    r = client.post(f"/api/v1/alerts/{alert}/ack", json={"note": "x"}, headers=as_user("operator"))
    assert r.status_code == 403 and "technician" in r.json()["detail"]
    body = {"code": "21999", "name": "Xã Mới"}
    assert client.post("/api/v1/communes", json=body, headers=as_user("tech")).status_code == 403
    assert client.get("/api/v1/audit", headers=as_user("tech")).status_code == 403
    assert client.get("/api/v1/users", headers=as_user("operator")).status_code == 403
    # An admin limited to some communes may not manage users (they could widen their scope).
    assert client.get("/api/v1/users", headers=as_user("admin_a")).status_code == 403
    assert client.get("/api/v1/users", headers=as_user("admin")).status_code == 200


def test_user_management_over_the_api(client, as_user):
    body = {"name": "kt.vien", "role": "technician", "communes": [A]}
    r = client.post("/api/v1/users", json=body, headers=as_user("admin"))
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert client.post("/api/v1/users", json=body, headers=as_user("admin")).status_code == 409
    names = [
        u["name"] for u in client.get("/api/v1/users", headers=as_user("admin")).json()["data"]
    ]
    assert "kt.vien" in names
    r = client.get("/api/v1/communes", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    bad = client.post("/api/v1/users", json={**body, "communes": ["123"]}, headers=as_user("admin"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][:3] == ["body", "communes", 0]
    r = client.post("/api/v1/users/nobody/rotate", json={}, headers=as_user("admin"))
    assert r.status_code == 404
    audit = client.get("/api/v1/audit", params={"object_type": "user"}, headers=as_user("admin"))
    assert [e["action"] for e in audit.json()["data"]] == ["create"]


def test_rate_limit_per_token_is_429(serve, world, as_user):
    client = serve(api={"rate_limit": "3/minute"})
    codes = [
        client.get("/api/v1/communes", headers=as_user("operator")).status_code for _ in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    r = client.get("/api/v1/communes", headers=as_user("operator"))
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert "rate limit" in r.json()["detail"]
    # Another token has its own budget.
    assert client.get("/api/v1/communes", headers=as_user("admin")).status_code == 200


def test_body_limit_is_413(serve, world, as_user):
    client = serve(api={"body_limit_bytes": 1024})
    big = {"note": "x" * 1500}
    alert = world.alerts["a_warn"]
    r = client.post(f"/api/v1/alerts/{alert}/ack", json=big, headers=as_user("tech"))
    assert r.status_code == 413 and "1024" in r.json()["detail"]

    def chunks():
        yield b'{"note": "'
        yield b"y" * 2000
        yield b'"}'

    headers = {**as_user("tech"), "Content-Type": "application/json"}
    r = client.post(f"/api/v1/alerts/{alert}/ack", content=chunks(), headers=headers)
    assert r.status_code == 413


def test_errors_are_json_and_name_the_field(client, world, as_user):
    r = client.get("/api/v1/nothing-here", headers=as_user("admin"))
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = client.get("/api/v1/devices", params={"limit": "lots"}, headers=as_user("admin"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "limit"]
    r = client.post(
        "/api/v1/communes",
        json={"code": "21999", "name": "X", "owner": "me"},
        headers=as_user("admin"),
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "owner"]
    assert "Extra inputs" in r.json()["detail"][0]["msg"]
    r = client.post("/api/v1/communes", content=b"{not json", headers=as_user("admin"))
    assert r.status_code == 422 and "detail" in r.json()


def test_cli_users(db_url, monkeypatch):
    monkeypatch.setenv("IOC_DATABASE_URL", db_url)
    runner = CliRunner()
    r = runner.invoke(
        cli,
        ["users", "create", "ubnd.ts", "--role", "operator", "--commune", A, "--expires-days", "7"],
    )
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("ioc_") and len(token) > 40
    r = runner.invoke(cli, ["users", "create", "ubnd.ts", "--role", "operator"])
    assert r.exit_code != 0 and "already exists" in r.output
    r = runner.invoke(cli, ["users", "create", "x", "--role", "operator", "--commune", "12"])
    assert r.exit_code != 0
    r = runner.invoke(cli, ["users", "list"])
    assert "ubnd.ts" in r.output and A in r.output and "active" in r.output
    r = runner.invoke(cli, ["users", "rotate", "ubnd.ts"])
    assert r.exit_code == 0 and r.output.strip().splitlines()[-1] != token
    r = runner.invoke(cli, ["users", "revoke", "ubnd.ts"])
    assert r.exit_code == 0
    assert "revoked" in runner.invoke(cli, ["users", "list"]).output
    r = runner.invoke(cli, ["users", "rotate", "ubnd.ts"])
    assert r.exit_code != 0 and "revoked" in r.output


def test_grafana_role_cannot_read_tokens(db, tokens):
    if not db.execute("SELECT 1 FROM pg_roles WHERE rolname = 'ioc_grafana'").fetchone():
        pytest.skip("the ioc_grafana role does not exist on this server (no CREATEROLE)")
    with db.transaction():
        db.execute("SET LOCAL ROLE ioc_grafana")
        for table in ("ioc_auth.users", "ioc_auth.tokens"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), db.transaction():
                db.execute(f"SELECT * FROM {table}")
        # The audit log is not secret: Grafana may show it.
        db.execute("SELECT count(*) FROM audit_log")
    with db.transaction():
        db.execute("SET LOCAL ROLE ioc_app")
        assert db.execute("SELECT count(*) FROM ioc_auth.tokens").fetchone()[0] == len(tokens)


def test_unexpected_errors_are_500_json_without_trace(client, world, as_user, db, caplog):
    db.execute("ALTER TABLE audit_log RENAME TO audit_log_gone")
    r = client.get("/api/v1/audit", headers=as_user("admin"))
    assert r.status_code == 500
    assert r.json()["detail"].startswith("internal error (reference ")
    assert "Traceback" not in r.text and "audit_log" not in r.text
    reference = r.json()["detail"].split()[-1].rstrip(")")
    assert any(reference in rec.getMessage() and rec.exc_info for rec in caplog.records)
