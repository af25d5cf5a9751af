"""Small pieces of the admin site: the cookie signer, upload staging, the rejected-webhook
throttle and the SVG charts."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from eki_adapters.memory import InMemoryStore
from eki_adapters.system import FixedClock
from eki_domain.services.ingest import IngestService
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web.admin.charts import bar_chart, line_chart
from eki_entrypoints.web.admin.session import Signer, csrf_ok
from eki_entrypoints.web.admin.staging import UploadStaging

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STORED = b"a-key-generated-once-and-stored-in-the-database"


def test_signer_round_trip_tamper_and_expiry() -> None:
    signer = Signer(Settings(admin_token=Secret("tok")), STORED)
    session, cookie = signer.new_session(NOW, hours=12)
    assert signer.session(cookie, NOW) == (session, False)
    assert signer.session(cookie, NOW + timedelta(hours=12)) == (None, True)
    body, mac = cookie.split(".")
    assert signer.session(body + "x." + mac, NOW) == (None, False)
    assert signer.session(body + "." + mac[:-2], NOW) == (None, False)
    assert signer.session(None, NOW) == (None, False)
    assert signer.session("garbage", NOW) == (None, False)
    # a login-form token is not a session, and the other way round
    token, login_cookie = signer.new_login_token(NOW)
    assert signer.session(login_cookie, NOW) == (None, False)
    assert signer.login_token(login_cookie, NOW) == token
    assert signer.login_token(cookie, NOW) is None
    assert signer.login_token(login_cookie, NOW + timedelta(hours=2)) is None
    # another token or another secret key: the cookie is worthless
    assert Signer(Settings(admin_token=Secret("other")), STORED).session(cookie, NOW) == (
        None, False)
    assert Signer(Settings(admin_token=Secret("tok")), b"another stored key").session(
        cookie, NOW) == (None, False)
    keyed = Signer(Settings(admin_token=Secret("tok"), secret_key=Secret("s" * 32)))
    _s, keyed_cookie = keyed.new_session(NOW, 1)
    assert keyed.session(keyed_cookie, NOW)[0] is not None
    assert signer.session(keyed_cookie, NOW)[0] is None
    assert signer.token_matches(" tok ") and not signer.token_matches("to")


def test_csrf_comparison() -> None:
    assert csrf_ok("abc", "abc")
    assert not csrf_ok("abc", "abd") and not csrf_ok("abc", "") and not csrf_ok(None, "")
    assert not csrf_ok("abc", None) and not csrf_ok(None, "abc")


def test_upload_staging(tmp_path: Path) -> None:
    staging = UploadStaging(tmp_path / "up", ttl_seconds=60)
    sha = staging.put(b"nombre,telefono\n", {"target": "students"})
    data, meta = staging.get(sha) or (b"", {})
    assert data == b"nombre,telefono\n" and meta["target"] == "students"
    assert oct((tmp_path / "up").stat().st_mode)[-3:] == "700"
    assert staging.get("../" + sha) is None and staging.get("x" * 64) is None
    (tmp_path / "up" / f"{sha}.upload").write_bytes(b"altered")
    assert staging.get(sha) is None  # the bytes no longer match their sha256
    sha = staging.put(b"again", {"target": "students"})
    old = time.time() - 120
    for path in (tmp_path / "up").iterdir():
        os.utime(path, (old, old))
    assert staging.cleanup() == 2 and staging.get(sha) is None
    staging.put(b"third", {})
    staging.discard(staging.put(b"third", {}))
    assert list((tmp_path / "up").iterdir()) == []


async def test_rejected_webhooks_are_recorded_without_body_and_throttled() -> None:
    store = InMemoryStore()
    clock = FixedClock(NOW)
    ingest = IngestService(store.uow, clock, rejected_per_minute=2)
    assert await ingest.record_rejected(channel="meta", reason="firma inválida") is not None
    assert await ingest.record_rejected(channel="meta", reason="firma inválida") is not None
    assert await ingest.record_rejected(channel="meta", reason="firma inválida") is None
    clock.advance(timedelta(minutes=1))
    assert await ingest.record_rejected(channel="meta", reason="sin firma") is not None
    async with store.uow() as uow:
        events = await uow.operations.webhook_events()
    assert events.total == 3
    assert all(e.body == "" and not e.signature_ok for e in events.items)


def test_charts_escape_and_scale() -> None:
    bars = bar_chart("Mensajes <por> hora", ["00h", "01h"], [("inbound", [3.0, 0.0])])
    assert "Mensajes &lt;por&gt; hora" in bars and bars.count('class="bar inbound"') == 1
    assert ">5<" in bars  # the axis goes up to a round 5
    small = line_chart("s", ["a", "b"], [("avg", [0.02, 0.03])], unit=" s")
    assert "0,05 s" in small and "0,0 s" not in small  # small values keep their digits
    empty = line_chart("Vacío", ["00h"], [("avg", [None])], unit=" s")
    assert "<circle" not in empty and "<polyline" not in empty
    line = line_chart("t", ["a", "b", "c", "d"], [("avg", [1.0, 2.0, None, 4.0])])
    assert line.count("<polyline") == 1 and line.count("<circle") == 3
    assert "style=" not in bars + line


def test_upload_staging_refuses_a_directory_it_does_not_own_privately(tmp_path: Path) -> None:
    """Issue 21 item 13: a pre-created symlink or open directory is refused, not used."""
    import pytest

    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / "up"
    link.symlink_to(target)
    with pytest.raises(PermissionError):
        UploadStaging(link).put(b"x", {})
    assert list(target.iterdir()) == []
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    with pytest.raises(PermissionError):
        UploadStaging(open_dir).put(b"x", {})
    staging = UploadStaging(tmp_path / "fine")
    sha = staging.put(b"data", {})
    (tmp_path / "fine" / f"{sha}.upload").unlink()
    (tmp_path / "fine" / f"{sha}.upload").symlink_to(target / "nothing")
    assert staging.get(sha) is None  # a planted symlink is not followed
