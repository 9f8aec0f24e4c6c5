#!/usr/bin/env python3
"""Minimal HTTP/1.1 server for capture scenarios: answers GET and POST with a
short fixed body, keeps connections alive, serves --count connections then
exits (0 = forever). Standard library only."""
import argparse
import http.server
import socketserver


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so one curl run = one TCP flow
    server_version = "demo-app/1.0"
    sys_version = ""

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._reply(b"hello from demo-app " + self.path.encode() + b"\n")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self._reply(b"logged in\n")

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=0)
    args = parser.parse_args()
    socketserver.TCPServer.allow_reuse_address = True
    with socketserver.TCPServer((args.bind, args.port), Handler) as server:
        if args.count == 0:
            server.serve_forever()
        for _ in range(args.count):
            server.handle_request()


if __name__ == "__main__":
    main()
