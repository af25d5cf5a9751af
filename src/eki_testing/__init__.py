"""EKI's integration-test harness, shipped for anyone's tests (see ``docs/testing.md``).

* :mod:`~eki_testing.meta`: every Meta webhook payload, ``encode``/``sign``/
  ``signed_headers``;
* :mod:`~eki_testing.graph`: ``FakeGraphAPI``, a Graph API on 127.0.0.1 that
  records sends and injects 5xx, 429, permanent codes (131047…), latency, dropped
  connections;
* :mod:`~eki_testing.twilio`: Twilio form-post builders with
  ``X-Twilio-Signature`` (``signed_post``) and ``FakeTwilioServer``, the Messages API on
  127.0.0.1 with the same failure injections (5xx, 429, 63016…, latency) and a basic-auth
  check;
* :mod:`~eki_testing.openai`: ``FakeOpenAIServer`` (real HTTP) and
  ``ScriptedOpenAI`` (``httpx2.MockTransport``), following a script of tool calls, answers,
  failures and delays, recording requests;
* :mod:`~eki_testing.http`: ``ScriptedHTTPServer``, the base of the fakes;
* :mod:`~eki_testing.harness`: ``EkiHarness``, EKI in-process (Meta or Twilio
  channel) with helpers that send a student's message and wait for the reply;
* :mod:`~eki_testing.plugin`: the pytest plugin (entry point ``pytest11: eki``)
  with the ``eki_*`` fixtures.

Importing this package imports nothing else; each module starts nothing at import time.
"""
