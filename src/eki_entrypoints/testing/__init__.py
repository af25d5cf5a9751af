"""EKI's integration-test harness, shipped for anyone's tests.

Payload builders with correct signatures, fake provider servers (Graph API, Twilio,
OpenAI-compatible) that record requests and inject failures, and a pytest plugin that
starts EKI in-process with those fakes wired in. See ``docs/testing.md``.
"""
