"""Container health check: GET /healthz of the EKI process in this container.

    python /opt/eki/healthcheck.py [PORT]     # default: $PORT, else 8000

Exit 0 when it answers 200 within 4 s, else 1. With EKI_ALLOWED_HOSTS set, the request
carries the first allowed host name (EKI refuses other Host headers with 400).
"""

import os
import sys
import urllib.request


def main() -> int:
    port = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8000")
    hosts = [h.strip() for h in os.environ.get("EKI_ALLOWED_HOSTS", "").split(",") if h.strip()]
    headers = {}
    if hosts and hosts[0] != "*":
        headers["Host"] = hosts[0].replace("*", "health", 1)
    request = urllib.request.Request(f"http://127.0.0.1:{int(port)}/healthz", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310 - loopback
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
