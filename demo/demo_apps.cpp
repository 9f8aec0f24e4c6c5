#include "demo/demo_apps.hpp"

namespace meshproof::demo {

namespace {

// Kept small and dependency-free: it must run on any Debian with python3.
constexpr std::string_view kScript = R"PY(#!/usr/bin/env python3
"""meshproof demo workloads (written by `meshproof demo`; see demo/demo_apps.hpp)."""
import argparse
import http.client
import http.server
import json
import os
import socket
import socketserver
import sys
import urllib.parse

TOKEN = os.environ.get("MPDEMO_TOKEN", "")
PASSWORD = os.environ.get("MPDEMO_PASSWORD", "")
DB_PASSWORD = os.environ.get("MPDEMO_DB_PASSWORD", "")
SESSION = os.environ.get("MPDEMO_SESSION", "")


# ---------------------------------------------------------------- db (RESP)
STORE = {b"orders:alice": b'[{"id": 1001, "item": "keyboard"}, {"id": 1002, "item": "monitor"}]'}


class DbHandler(socketserver.StreamRequestHandler):
    def read_command(self):
        line = self.rfile.readline()
        if not line.startswith(b"*"):
            return None
        args = []
        for _ in range(int(line[1:])):
            header = self.rfile.readline()
            if not header.startswith(b"$"):
                return None
            size = int(header[1:])
            args.append(self.rfile.read(size + 2)[:size])
        return args

    def handle(self):
        authed = False
        while True:
            try:
                args = self.read_command()
            except (ValueError, OSError):
                return
            if not args:
                return
            cmd = args[0].upper()
            if cmd == b"AUTH":
                authed = args[-1].decode(errors="replace") == DB_PASSWORD
                reply = b"+OK\r\n" if authed else b"-WRONGPASS invalid username-password pair\r\n"
            elif cmd == b"PING":
                reply = b"+PONG\r\n"
            elif cmd == b"QUIT":
                self.wfile.write(b"+OK\r\n")
                return
            elif not authed:
                reply = b"-NOAUTH Authentication required.\r\n"
            elif cmd == b"GET" and len(args) == 2:
                value = STORE.get(args[1])
                reply = b"$-1\r\n" if value is None else b"$%d\r\n%s\r\n" % (len(value), value)
            else:
                reply = b"-ERR unknown command\r\n"
            self.wfile.write(reply)


def resp(*parts):
    out = b"*%d\r\n" % len(parts)
    for p in parts:
        p = p.encode() if isinstance(p, str) else p
        out += b"$%d\r\n%s\r\n" % (len(p), p)
    return out


def db_get(db_addr, key):
    host, port = db_addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        f = s.makefile("rb")
        s.sendall(resp("AUTH", DB_PASSWORD))
        if f.readline() != b"+OK\r\n":
            raise RuntimeError("db refused AUTH")
        s.sendall(resp("GET", key))
        header = f.readline()
        if not header.startswith(b"$") or header.startswith(b"$-1"):
            raise RuntimeError("db: no value for " + key)
        value = f.read(int(header[1:]) + 2)[:-2]
        s.sendall(resp("QUIT"))
        f.readline()
        return value


# ---------------------------------------------------------------- backend (HTTP)
class BackendHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one client round = one TCP connection
    server_version = "demo-backend/1.0"
    sys_version = ""
    db_addr = ""

    def reply(self, status, body, headers=()):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode(errors="replace"))
        if self.path != "/login":
            return self.reply(404, '{"error": "not found"}')
        if form.get("password", [""])[0] != PASSWORD:
            return self.reply(403, '{"error": "bad password"}')
        self.reply(200, '{"user": "alice"}', [("Set-Cookie", "session=%s; HttpOnly; Path=/" % SESSION)])

    def do_GET(self):  # noqa: N802
        if self.path != "/api/orders":
            return self.reply(404, '{"error": "not found"}')
        if self.headers.get("Authorization", "") != "Bearer " + TOKEN:
            return self.reply(401, '{"error": "unauthorized"}')
        try:
            orders = db_get(self.db_addr, "orders:alice").decode()
        except (OSError, RuntimeError) as e:
            return self.reply(502, json.dumps({"error": "db: %s" % e}))
        self.reply(200, '{"user": "alice", "orders": %s}' % orders)

    def log_message(self, *args):
        pass


# ---------------------------------------------------------------- client
def run_client(url, host, rounds):
    u = urllib.parse.urlsplit(url)
    for i in range(rounds):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
        body = urllib.parse.urlencode({"username": "alice", "password": PASSWORD})
        conn.request("POST", "/login", body=body,
                     headers={"Host": host, "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        r.read()
        cookie = (r.getheader("Set-Cookie") or "").split(";")[0]
        if r.status != 200 or not cookie:
            sys.exit("round %d: POST /login answered %d" % (i + 1, r.status))
        conn.request("GET", "/api/orders",
                     headers={"Host": host, "Authorization": "Bearer " + TOKEN, "Cookie": cookie})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200 or b"orders" not in data:
            sys.exit("round %d: GET /api/orders answered %d: %s" % (i + 1, r.status, data[:200]))
        conn.close()
    print("ok: %d rounds of POST /login + GET /api/orders" % rounds)


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ThreadingTcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["db", "backend", "client"])
    p.add_argument("--bind")
    p.add_argument("--port", type=int)
    p.add_argument("--db")
    p.add_argument("--url")
    p.add_argument("--host")
    p.add_argument("--rounds", type=int, default=2)
    a = p.parse_args()
    if a.mode == "db":
        ThreadingTcpServer((a.bind, a.port), DbHandler).serve_forever()
    elif a.mode == "backend":
        BackendHandler.db_addr = a.db
        ThreadingServer((a.bind, a.port), BackendHandler).serve_forever()
    else:
        run_client(a.url, a.host, a.rounds)


if __name__ == "__main__":
    main()
)PY";

}  // namespace

std::string_view demo_apps_python() { return kScript; }

}  // namespace meshproof::demo
