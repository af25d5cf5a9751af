"""EKI running in-process for end-to-end tests, driven like a student would.

:class:`EkiHarness` starts the real web app (``create_app`` with the pipeline worker, via
Starlette's ``TestClient``: no port, no subprocess) against a migrated database, with the
WhatsApp channel pointed at a :class:`~eki_testing.graph.FakeGraphAPI`. A
student message is a Meta webhook signed with the app secret, exactly as Meta posts it;
the reply is whatever EKI sent to the fake Graph API::

    with FakeGraphAPI() as graph, EkiHarness.for_database(url, graph) as eki:
        eki.register("Ana María Pérez", "3001234567")
        assert "Ana" in eki.say("3001234567", "hola")

With Twilio as the channel (``EKI_CHANNEL=twilio``: :func:`harness_settings` with
``twilio=``), the same helpers post a signed Twilio form to ``/webhooks/twilio`` and read
the replies from a :class:`~eki_testing.twilio.FakeTwilioServer`::

    with FakeTwilioServer() as twilio, EkiHarness.for_database(url, twilio=twilio) as eki:
        eki.register("Ana María Pérez", "3001234567")
        assert "Ana" in eki.say("3001234567", "hola")

The pytest plugin (:mod:`eki_testing.plugin`) builds all of this for you as
the ``eki_harness`` fixture (with ``eki_twilio`` for the Twilio channel).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import httpx2
from starlette.testclient import TestClient

from eki_adapters.sql import create_engine, upgrade
from eki_domain.model.gradebook import ProgressKind
from eki_domain.model.imports import sheet_from_records
from eki_domain.model.phone import mask_phone
from eki_domain.model.student import Student
from eki_domain.services.imports import ImportResult
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.settings import Secret, Settings
from eki_testing import meta
from eki_testing import twilio as tw
from eki_testing.graph import FakeGraphAPI
from eki_testing.twilio import FakeTwilioServer

__all__ = ["ADMIN_TOKEN", "APP_SECRET", "TWILIO_PUBLIC_URL", "EkiHarness", "harness_settings",
           "migrate"]

T = TypeVar("T")

#: The secrets the harness configures (signed posts verify with APP_SECRET).
APP_SECRET = "eki-test-app-secret"
VERIFY_TOKEN = "eki-test-verify-token"
ADMIN_TOKEN = "eki-test-admin-token-0123456789abcdef"
ACCESS_TOKEN = "eki-test-access-token"
PHONE_NUMBER_ID = meta.PHONE_NUMBER_ID
#: ``EKI_PUBLIC_URL`` with the Twilio channel: the harness signs its Twilio posts for this
#: URL (as Twilio signs for the public URL in front of a proxy), and EKI's status
#: callbacks point at ``{TWILIO_PUBLIC_URL}/webhooks/twilio/status``.
TWILIO_PUBLIC_URL = "https://eki.test"


def harness_settings(database_url: str, graph: FakeGraphAPI | None = None, *,
                     openai_url: str | None = None, twilio: FakeTwilioServer | None = None,
                     **overrides: Any) -> Settings:
    """Settings for EKI under test: known secrets; the Meta channel on ``graph``, or the
    Twilio channel (``EKI_CHANNEL=twilio``) on ``twilio`` when given; the LLM on an
    OpenAI-compatible server at ``openai_url`` (rule-based replies without). Consent before
    data is off (``consent_required=True`` to test the notice, docs/privacy.md)."""
    if graph is None and twilio is None:
        raise ValueError("harness_settings needs a fake channel: graph=FakeGraphAPI() "
                         "or twilio=FakeTwilioServer()")
    values: dict[str, Any] = {
        "database_url": database_url,
        "admin_token": Secret(ADMIN_TOKEN),
        "whatsapp_app_secret": Secret(APP_SECRET),
        "whatsapp_verify_token": Secret(VERIFY_TOKEN),
        "whatsapp_access_token": Secret(ACCESS_TOKEN),
        "whatsapp_phone_number_id": PHONE_NUMBER_ID,
        "report_cache_ttl": 0,
        # Registered students are answered at once; consent_required=True tests the notice.
        "consent_required": False,
    }
    if graph is not None:
        values["whatsapp_api_url"] = graph.url
    if twilio is not None:
        values.update(
            channel="twilio", production=True,
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=Secret(twilio.auth_token),
            twilio_from=tw.FROM,
            twilio_api_url=twilio.url,
            public_url=TWILIO_PUBLIC_URL,
        )
    if openai_url is not None:
        values.update(openai_api_key=Secret("sk-eki-test"), openai_base_url=openai_url)
    values.update(overrides)
    return Settings(**values)


def _run_sync(coroutine: Awaitable[T]) -> T:
    """Run a coroutine from sync code, even when called inside a running event loop."""

    async def wrapper() -> T:
        return await coroutine

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, wrapper()).result()


def migrate(database_url: str) -> None:
    """Bring the database at ``database_url`` to the latest schema (idempotent)."""

    async def run() -> None:
        engine = create_engine(database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    _run_sync(run())


class EkiHarness:
    """EKI's web app and worker in-process, with helpers that talk to it like a student.

    The channel follows ``settings.channel``: Meta webhooks and replies read from
    ``graph``, or (``"twilio"``) signed Twilio form posts and replies read from
    ``twilio``. ``timeout`` (seconds) bounds :meth:`wait_for_reply`. Start with ``with``
    or :meth:`start`; :meth:`stop` shuts the app (and its worker) down."""

    def __init__(self, settings: Settings, graph: FakeGraphAPI | None = None, *,
                 twilio: FakeTwilioServer | None = None, timeout: float = 10.0,
                 worker_concurrency: int = 4, migrate_first: bool = True) -> None:
        if settings.channel == "twilio" and twilio is None:
            raise ValueError("settings.channel is 'twilio': pass twilio=FakeTwilioServer() "
                             "(the fake the settings' twilio_api_url points at)")
        if settings.channel != "twilio" and graph is None:
            raise ValueError(f"settings.channel is {settings.channel!r}: pass the "
                             "FakeGraphAPI the settings' whatsapp_api_url points at")
        self.settings = settings
        self._graph = graph
        self.twilio = twilio
        self.timeout = timeout
        self.worker_concurrency = worker_concurrency
        self.migrate_first = migrate_first
        self._client: TestClient | None = None

    @classmethod
    def for_database(cls, database_url: str, graph: FakeGraphAPI | None = None, *,
                     twilio: FakeTwilioServer | None = None, openai_url: str | None = None,
                     **kwargs: Any) -> EkiHarness:
        """EKI on ``database_url`` (migrated first) with the Meta channel on ``graph``, or
        the Twilio channel on ``twilio`` when given."""
        settings = harness_settings(database_url, graph, openai_url=openai_url, twilio=twilio)
        return cls(settings, graph, twilio=twilio, **kwargs)

    @property
    def is_twilio(self) -> bool:
        """True when EKI runs with the Twilio channel (``settings.channel == "twilio"``)."""
        return self.settings.channel == "twilio"

    @property
    def graph(self) -> FakeGraphAPI:
        """The fake Graph API (Meta channel)."""
        if self._graph is None:
            raise RuntimeError("this harness runs the Twilio channel: use .twilio")
        return self._graph

    @property
    def outbox(self) -> FakeGraphAPI | FakeTwilioServer:
        """The fake provider EKI sends through: ``twilio`` or ``graph``."""
        if self.is_twilio:
            assert self.twilio is not None
            return self.twilio
        return self.graph

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> EkiHarness:
        from eki_entrypoints.web import create_app

        if self._client is not None:
            return self
        self.outbox.start()
        if self.migrate_first:
            migrate(self.settings.database_url)
        app = create_app(self.settings, run_worker=True,
                         worker_concurrency=self.worker_concurrency)
        client = TestClient(app, raise_server_exceptions=True)
        client.__enter__()
        self._client = client
        return self

    def stop(self) -> None:
        """Shut the app down: the fake provider's connections first (a send still waiting
        for a slow scripted answer fails at once instead of holding the worker), then the
        worker (it finishes the step it is in) and the database."""
        if self._client is not None:
            client, self._client = self._client, None
            self.outbox.close_connections()
            client.__exit__(None, None, None)

    def __enter__(self) -> EkiHarness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def client(self) -> TestClient:
        """An HTTP client on the running app (``client.get("/healthz")``)."""
        if self._client is None:
            raise RuntimeError("the EKI harness is not started: call start() or use `with`")
        return self._client

    @property
    def eki(self) -> Eki:
        """The wired application (services, clock, channel) running inside the app."""
        return self.client.app.state.eki  # type: ignore[attr-defined,no-any-return]

    @property
    def admin_headers(self) -> dict[str, str]:
        """``Authorization`` for the admin API (``/api/...``)."""
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def call(self, function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run an async EKI function (``eki.registration.find``…) on the app's event loop."""
        portal = self.client.portal
        assert portal is not None
        return portal.call(lambda: function(*args, **kwargs))

    # -- school data ----------------------------------------------------------------------

    def register(self, name: str, phone: str, *, tags: Iterable[str] = ()) -> Student:
        """Register one student (the phone in any format; the default country applies)."""
        return self.call(self.eki.registration.register, name, phone, tags=list(tags))

    def import_students(self, rows: Sequence[Mapping[str, object]]) -> ImportResult:
        """Import students from rows with spreadsheet column names (``nombre``,
        ``telefono``, ``etiquetas``…)."""
        return self.call(self.eki.student_import.import_records, list(rows))

    def import_grades(self, rows: Sequence[Mapping[str, object]]) -> ImportResult:
        """Import grades: ``telefono``, ``curso``, ``actividad``, ``nota`` (+ ``periodo``,
        ``peso``, ``fecha_entrega``…; see docs/progress.md)."""
        return self._import_progress(rows, ProgressKind.GRADES, "notas")

    def import_attendance(self, rows: Sequence[Mapping[str, object]]) -> ImportResult:
        """Import attendance: ``telefono``, ``curso``, ``fecha``, ``estado``."""
        return self._import_progress(rows, ProgressKind.ATTENDANCE, "asistencia")

    def _import_progress(self, rows: Sequence[Mapping[str, object]], kind: ProgressKind,
                         name: str) -> ImportResult:
        sheet = sheet_from_records(list(rows), name)
        return self.call(self.eki.progress_import.import_sheet, sheet, kind=kind)

    # -- students talking -----------------------------------------------------------------

    def wa_id(self, phone: str) -> str:
        """The WhatsApp id (digits with country code) of a phone in any format."""
        return self.eki.registration.parse_phone(phone).wa_id

    def post_webhook(self, payload: Mapping[str, Any], *, secret: str = APP_SECRET
                     ) -> httpx2.Response:
        """POST a Meta webhook payload (see :mod:`eki_testing.meta`), signed."""
        body = meta.encode(payload)
        return self.client.post("/webhooks/whatsapp", content=body,
                                headers=meta.signed_headers(body, secret))

    def post_twilio(self, form: Mapping[str, str], *, path: str = "/webhooks/twilio",
                    auth_token: str | None = None) -> httpx2.Response:
        """POST a Twilio form (see :mod:`eki_testing.twilio`) to ``path``,
        signed with the configured auth token (or ``auth_token``) for the URL Twilio
        would call: ``settings.public_url`` + ``path``."""
        if auth_token is None:
            token = self.settings.twilio_auth_token
            if token is None:
                raise RuntimeError("settings.twilio_auth_token is not set: EKI cannot check "
                                   "Twilio signatures (use harness_settings(twilio=...))")
            auth_token = token.get()
        base = (self.settings.public_url or str(self.client.base_url)).rstrip("/")
        request = tw.signed_post(form, url=f"{self.client.base_url}{path}",
                                 signed_url=base + path, auth_token=auth_token)
        return self.client.post(request.path, content=request.body, headers=request.headers)

    def send(self, phone: str, text: str, **fields: Any) -> str:
        """A student writes ``text`` from ``phone``: a signed Meta webhook, or a signed
        Twilio form post with the Twilio channel. Returns the message's id (wamid or
        Twilio ``MessageSid``)."""
        if self.is_twilio:
            form = tw.text_message(self.wa_id(phone), text, to=self.settings.twilio_from
                                   or tw.FROM, **fields)
            response = self.post_twilio(form)
            message_id = form["MessageSid"]
        else:
            payload = meta.text_message(self.wa_id(phone), text, **fields)
            response = self.post_webhook(payload)
            message_id = meta.wamid_of(payload)
        assert response.status_code == 200, (
            f"EKI refused the webhook: HTTP {response.status_code} {response.text[:300]}")
        return message_id

    def replies(self, phone: str) -> list[str]:
        """Every text EKI has sent to ``phone`` so far, oldest first."""
        return self.outbox.texts_to(self.wa_id(phone))

    def wait_for_reply(self, phone: str, *, after: int = 0, timeout: float | None = None
                       ) -> str:
        """Wait until EKI has sent more than ``after`` texts to ``phone``; return the
        first new one. Fails with what EKI did send when the timeout passes."""
        wa_id = self.wa_id(phone)
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        outbox = self.outbox
        while True:
            texts = outbox.texts_to(wa_id)
            if len(texts) > after:
                return texts[after]
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"EKI sent no reply to {_masked(wa_id)} within {limit:g}s "
                    f"(texts to it: {len(texts)}, waiting for #{after + 1}). The "
                    f"{_attempts(outbox)}. Is the student registered, the channel pointed "
                    "at the fake, and the script of the fakes long enough?")
            time.sleep(0.02)

    def history(self, phone: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """The student's conversation as the admin API shows it, newest first: dicts with
        ``direction`` (in/out), ``text``, ``state`` (sent, delivered, failed…),
        ``error_code``, ``intent``…"""
        response = self.client.get(f"/api/students/{self.wa_id(phone)}/messages",
                                   params={"limit": limit}, headers=self.admin_headers)
        assert response.status_code == 200, (
            f"history of {_masked(self.wa_id(phone))}: HTTP {response.status_code} "
            f"{response.text[:300]}")
        return list(response.json()["items"])

    def wait_until(self, condition: Callable[[], T], *, timeout: float | None = None,
                   what: str = "the condition") -> T:
        """Poll ``condition()`` until it returns something truthy, and return that."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"{what} did not hold within {limit:g}s "
                                     f"(last value: {value!r})")
            time.sleep(0.02)

    def say(self, phone: str, text: str, *, timeout: float | None = None) -> str:
        """Send ``text`` from ``phone`` and return EKI's reply (waits for it)."""
        before = len(self.replies(phone))
        self.send(phone, text)
        return self.wait_for_reply(phone, after=before, timeout=timeout)


def _masked(wa_id: object) -> str:
    return mask_phone(str(wa_id or ""))


def _attempts(outbox: FakeGraphAPI | FakeTwilioServer) -> str:
    """What the fake received, phones masked and no message text."""
    if isinstance(outbox, FakeTwilioServer):
        sends = [(_masked(r.form.get("To", "").removeprefix("whatsapp:").lstrip("+")),
                  r.status) for r in outbox.sends()]
        return (f"fake Twilio API received {len(outbox.requests)} request(s); sends "
                f"(to, status): {sends}")
    others = [(_masked(r.json.get("to")), r.json.get("type")) for r in outbox.sends()]
    return f"fake Graph API received {len(outbox.requests)} request(s); sends: {others}"
