"""Shared by the device peer tests (scripts/modbus_e2e.py, scripts/ocpp_e2e.py):
free ports, waiting, a small API client, and a `vpp serve` on a new SQLite
file with a known admin password."""
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

ADMIN_PASSWORD = "peer-test-admin-pw"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, check, timeout=30.0, every=0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            last = e
        time.sleep(every)
    sys.exit(f"FAIL: {what} (after {timeout} s; last: {last})")


def parse(text):
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text.decode(errors="replace")


class Api:
    def __init__(self, base, cafile=None):
        self.base, self.token = base, None
        self.context = ssl.create_default_context(cafile=cafile) if cafile else None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=10, context=self.context) as r:
                text = r.read()
                return r.status, parse(text)
        except urllib.error.HTTPError as e:
            text = e.read()
            return e.code, parse(text)

    def ok(self, method, path, body=None, status=(200, 201)):
        code, value = self.call(method, path, body)
        if code not in status:
            sys.exit(f"FAIL: {method} {path} answered {code}: {value}")
        return value


def self_signed_certificate(tmp):
    """A certificate for 127.0.0.1 made with the openssl CLI: (cert, key)."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return cert, key


def start_server(vpp, tmp, *flags, tls=None, env_extra=None):
    """`vpp serve` on TMP/vpp.db at a free port (log in TMP/server.log),
    logged in as admin: returns the process and the client. With
    tls=(cert, key) it serves HTTPS and the client trusts that certificate."""
    port = free_port()
    env = dict(os.environ, VPP_ADMIN_PASSWORD=ADMIN_PASSWORD, **(env_extra or {}))
    if tls:
        flags = (*flags, "--tls-cert", tls[0], "--tls-key", tls[1])
    log = open(os.path.join(tmp, "server.log"), "w")
    server = subprocess.Popen(
        [vpp, "--database-url", f"sqlite://{tmp}/vpp.db", "serve", "--bind", f"127.0.0.1:{port}",
         "--physical-forecast-interval-min", "0", *flags],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    scheme = "https" if tls else "http"
    api = Api(f"{scheme}://127.0.0.1:{port}", cafile=tls[0] if tls else None)
    wait_for("the server to start", lambda: api.call("GET", "/healthz")[0] == 200)
    api.token = api.ok("POST", "/api/v1/auth/login", {"username": "admin", "password": ADMIN_PASSWORD})["access_token"]
    return server, api, port
