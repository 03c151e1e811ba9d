"""The console over HTTP: login, pages, actions with CSRF, roles and commune scopes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import psycopg

from tests.api.conftest import World
from tests.console.conftest import csrf_of, log_in, password_of


def _alert(db: psycopg.Connection, alert_id: int) -> tuple[str | None, str | None, str | None]:
    row = db.execute(
        "SELECT acknowledged_by, ack_note, assignee FROM alerts WHERE id = %s", (alert_id,)
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def test_pages_need_a_login(client: httpx.Client) -> None:
    r = client.get("/console/")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/login?next=")
    assert client.get("/").headers["location"] == "/console/"


def test_session_cookie_is_secure_httponly_samesite(
    serve: Callable[..., httpx.Client], world: World, passwords: dict[str, str]
) -> None:
    c = serve()  # default settings: Secure on (so httpx keeps the cookies to itself over http)
    form = c.get("/console/login")
    assert "IOC_CONSOLE_COOKIE_SECURE=false" in form.text  # plain http: the page says why
    assert "secure" in form.headers["set-cookie"].lower()
    pre = form.headers["set-cookie"].split(";")[0]
    r = c.post(
        "/console/login",
        data={"username": "tech_a", "password": password_of("tech_a"), "csrf": csrf_of(form.text)},
        headers={"Cookie": pre},
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "ioc_session=" in cookie
    for flag in ("secure", "httponly", "samesite=lax"):
        assert flag in cookie


def test_wrong_password_is_refused_and_audited(
    serve: Callable[..., httpx.Client],
    db: psycopg.Connection,
    world: World,
    passwords: dict[str, str],
) -> None:
    client = serve(console={"cookie_secure": False})
    r = log_in(client, "tech_a", "wrong password")
    assert r.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in r.text
    assert "ioc_session" not in r.headers.get("set-cookie", "")
    row = db.execute(
        "SELECT actor, details->>'channel' FROM audit_log WHERE action = 'login_failed'"
    ).fetchone()
    assert row == ("tech_a", "console")


def test_login_is_rate_limited(
    serve: Callable[..., httpx.Client], world: World, passwords: dict[str, str]
) -> None:
    c = serve(console={"login_rate_limit": "3/minute", "cookie_secure": False})
    codes = [log_in(c, "tech_a", "nope").status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    r = log_in(c, "tech_a")  # even the right password waits now
    assert r.status_code == 429


def test_login_form_needs_its_csrf_token(
    serve: Callable[..., httpx.Client], world: World, passwords: dict[str, str]
) -> None:
    client = serve(console={"cookie_secure": False})
    client.get("/console/login")
    r = client.post("/console/login", data={"username": "tech_a", "password": "pw-tech_a-Tịnh-Sơn"})
    assert r.status_code == 403


def test_incidents_root_first_with_impact_children_folded(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    db.execute(
        "UPDATE alerts SET annotations = %s WHERE id = %s",
        ('{"impact": {"camera": 9, "speaker": 2}}', world.alerts["a_root"]),
    )
    html = console("tech").get("/console/").text
    root = html.index(f'id="alert-{world.alerts["a_root"]}"')
    child = html.index(f'id="alert-{world.alerts["a_child"]}"')
    assert root < html.index("<details>") < child  # the child is folded under its root
    assert "9 camera, 2 cụm loa" in html and "không truy cập được" in html
    assert html.index(f'id="alert-{world.alerts["a_warn"]}"') > root
    assert f'id="alert-{world.alerts["b_root"]}"' in html
    assert '<meta http-equiv="refresh"' in html


def test_incidents_of_a_commune_technician_stay_in_the_commune(
    console: Callable[..., httpx.Client], world: World
) -> None:
    html = console("tech_a").get("/console/").text
    assert f'id="alert-{world.alerts["a_root"]}"' in html
    assert f'id="alert-{world.alerts["b_root"]}"' not in html
    assert "Tịnh Hà" not in html  # not even in the commune filter


def test_incidents_filters(console: Callable[..., httpx.Client], world: World) -> None:
    c = console("tech")
    html = c.get("/console/", params={"severity": "warning"}).text
    assert f'id="alert-{world.alerts["a_warn"]}"' in html
    assert f'id="alert-{world.alerts["a_root"]}"' not in html
    html = c.get("/console/", params={"commune": "21026"}).text
    assert f'id="alert-{world.alerts["b_root"]}"' in html
    assert f'id="alert-{world.alerts["a_root"]}"' not in html
    assert c.get("/console/", params={"severity": "nonsense"}).status_code == 422


def test_ack_assign_silence_through_forms(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    c = console("tech_a")
    alert = world.alerts["a_root"]
    page = c.get(f"/console/alerts/{alert}")
    assert page.status_code == 200
    token = csrf_of(page.text)
    r = c.post(f"/console/alerts/{alert}/ack", data={"csrf": token, "note": "đang xử lý"})
    assert r.status_code == 303 and r.headers["location"].endswith("done=ack")
    assert _alert(db, alert)[:2] == ("tech_a", "đang xử lý")
    r = c.post(f"/console/alerts/{alert}/assign", data={"csrf": token, "me": "1"})
    assert r.status_code == 303
    assert _alert(db, alert)[2] == "tech_a"
    r = c.post(
        f"/console/alerts/{alert}/silence",
        data={"csrf": token, "scope": "site", "hours": "4", "comment": "bảo trì"},
    )
    assert r.status_code == 303
    row = db.execute(
        "SELECT matchers, created_by, ends_at - now() FROM silences ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert row is not None
    assert row[0] == [{"label": "site", "op": "=", "value": "a-ubnd"}]
    assert row[1] == "tech_a"
    assert 3.9 * 3600 < row[2].total_seconds() <= 4 * 3600
    audited = db.execute(
        "SELECT action, object_type, details->>'channel' FROM audit_log WHERE actor = 'tech_a'"
    ).fetchall()
    for entry in (
        ("login", "session", "console"),
        ("acknowledged", "alert", "console"),
        ("assigned", "alert", "console"),
        ("create", "silence", "console"),
    ):
        assert entry in audited
    html = c.get(f"/console/alerts/{alert}?done=ack").text
    assert "đang xử lý" in html and "Đã xác nhận bởi tech_a" in html


def test_forms_without_the_csrf_token_are_refused(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    c = console("tech_a")
    alert = world.alerts["a_root"]
    r = c.post(f"/console/alerts/{alert}/ack", data={"note": "x"})
    assert r.status_code == 403
    r = c.post(f"/console/alerts/{alert}/ack", data={"note": "x", "csrf": "forged"})
    assert r.status_code == 403
    assert "CSRF" in r.text
    assert _alert(db, alert)[0] is None


def test_scope_and_role_refusals(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    tech_a = console("tech_a")
    token = csrf_of(tech_a.get("/console/").text)
    other = world.alerts["b_root"]
    assert tech_a.get(f"/console/alerts/{other}").status_code == 404
    r = tech_a.post(f"/console/alerts/{other}/ack", data={"csrf": token, "note": "x"})
    assert r.status_code == 404
    assert tech_a.get("/console/devices/b-cam-1").status_code == 404
    assert tech_a.get("/console/communes/21026").status_code == 404
    operator = console("operator")
    token = csrf_of(operator.get("/console/").text)
    r = operator.post(f"/console/alerts/{other}/ack", data={"csrf": token, "note": "x"})
    assert r.status_code == 403
    assert _alert(db, other)[0] is None


def test_device_and_commune_pages(console: Callable[..., httpx.Client], world: World) -> None:
    c = console("tech_a")
    html = c.get("/console/devices/a-cam-1").text
    assert "Không truy cập được" in html
    assert 'id="root-cause"' in html and "/console/devices/a-uplink" in html
    assert "<polyline" in html  # 24 h of fps
    assert "Camera bị che hoặc xoay hướng" in html and "tamper" not in html  # words, not ids
    html = c.get("/console/communes/21025").text
    assert 'id="counts"' in html and "a-cam-2" in html
    assert "<img" not in html  # no tile URL configured: no map, nothing fetched


def test_logout_ends_the_session(console: Callable[..., httpx.Client], world: World) -> None:
    c = console("tech_a")
    token = csrf_of(c.get("/console/").text)
    assert c.post("/console/logout", data={"csrf": token}).status_code == 303
    assert c.get("/console/").status_code == 303


def test_english_switch(console: Callable[..., httpx.Client], world: World) -> None:
    c = console("tech_a")
    assert "Sự cố" in c.get("/console/").text
    r = c.get("/console/lang/en", params={"next": "/console/"})
    assert r.status_code == 303 and r.headers["location"] == "/console/"
    assert "Incidents" in c.get("/console/").text
    assert (
        c.get("/console/lang/en", params={"next": "//evil.example"}).headers["location"]
        == "/console/"
    )


def test_new_password_ends_sessions(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    from api.passwords import set_password

    c = console("tech_a")
    assert c.get("/console/").status_code == 200
    set_password(db, "tech_a", "a brand new password")
    assert c.get("/console/").status_code == 303


def test_incidents_untaken_first_then_severity_then_newest(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    a = world.alerts
    db.execute(
        'UPDATE alerts SET annotations = \'{"impact": {"camera": 1}}\' WHERE id = %s',
        (a["a_root"],),
    )
    db.execute(
        "UPDATE alerts SET started_at = now() - interval '1 minute' WHERE id = %s", (a["a_warn"],)
    )
    db.execute(
        "UPDATE alerts SET started_at = now() - interval '30 minutes' WHERE id = %s", (a["b_root"],)
    )
    html = console("tech").get("/console/").text
    # critical before warning, whatever the age; a root cause with impact first among equals
    positions = [html.index(f'id="alert-{a[k]}"') for k in ("a_root", "b_root", "a_warn")]
    assert positions == sorted(positions)
    # acknowledged (or silenced) incidents go below those nobody has taken yet
    db.execute(
        "UPDATE alerts SET acknowledged_at = now(), acknowledged_by = 'tech' WHERE id = %s",
        (a["a_root"],),
    )
    html = console("tech").get("/console/").text
    positions = [html.index(f'id="alert-{a[k]}"') for k in ("b_root", "a_warn", "a_root")]
    assert positions == sorted(positions)


def test_silences_page_lists_and_expires(
    console: Callable[..., httpx.Client], db: psycopg.Connection, world: World
) -> None:
    other = db.execute(
        "INSERT INTO silences (matchers, starts_at, ends_at, created_by, comment) VALUES "
        '(\'[{"label": "commune", "op": "=", "value": "21026"}]\', now(), '
        "now() + interval '1 hour', 'admin', 'Tịnh Hà') RETURNING id"
    ).fetchone()
    assert other is not None
    c = console("tech_a")
    token = csrf_of(c.get("/console/").text)
    alert = world.alerts["a_warn"]
    c.post(f"/console/alerts/{alert}/silence", data={"csrf": token, "hours": "1"})
    mine = db.execute("SELECT id FROM silences WHERE created_by = 'tech_a'").fetchone()
    assert mine is not None
    html = c.get("/console/silences").text
    assert f'id="silence-{mine[0]}"' in html and f'id="silence-{other[0]}"' not in html
    r = c.post(f"/console/silences/{other[0]}/expire", data={"csrf": token})
    assert r.status_code == 404  # another commune's silence
    r = c.post(f"/console/silences/{mine[0]}/expire", data={"csrf": token})
    assert r.status_code == 303
    expired = db.execute(
        "SELECT expired_at IS NOT NULL FROM silences WHERE id = %s", (mine[0],)
    ).fetchone()
    assert expired == (True,)
    assert f'id="silence-{mine[0]}"' not in c.get("/console/silences").text
    assert db.execute(
        "SELECT details->>'channel' FROM audit_log WHERE action = 'expire'"
    ).fetchone() == ("console",)
