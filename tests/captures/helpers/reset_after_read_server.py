#!/usr/bin/env python3
"""Behaves like an Istio STRICT inbound listener receiving plaintext: accepts,
reads the client's first bytes, answers nothing and aborts the connection with
a TCP RST (SO_LINGER on, timeout 0). Serves --count connections then exits."""
import argparse
import socket
import struct


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=1)
    args = parser.parse_args()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((args.bind, args.port))
        listener.listen(8)
        for _ in range(args.count):
            conn, _peer = listener.accept()
            conn.settimeout(5)
            try:
                conn.recv(4096)  # the plaintext bytes cross the wire first
            except OSError:
                pass
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # linger 0: RST instead of FIN


if __name__ == "__main__":
    main()
