"""The collector image's HEALTHCHECK: GET /healthz, which needs no password.

HTTPS first (the collector's certificate is not checked: this only asks
whether the process on this host serves), then plain HTTP for a collector
left on its default loopback listener. Exit 0 healthy, 1 not.
"""

import ssl
import sys
import urllib.request

ADDRESS = "127.0.0.1:9620"


def healthy(url: str) -> bool:
    context = ssl._create_unverified_context()  # liveness of this host's process only
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


if sys.argv[1:] in (["-h"], ["--help"]):
    print(__doc__)
    sys.exit(0)
sys.exit(0 if healthy(f"https://{ADDRESS}/healthz") or healthy(f"http://{ADDRESS}/healthz")
         else 1)
