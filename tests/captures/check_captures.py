#!/usr/bin/env python3
"""check_captures.py [PCAP_DIR] [--expected FILE]: verify with tshark that every
row of expected.tsv describes what its pcap really contains.

This does not compute meshproof's verdicts: it checks the wire facts each row
names in its notes column (`key=value; ...`), so that the captures made by
make_captures.sh are known to be what expected.tsv says before meshproof is
tested against them. Keys (items without '=' are comments):

  tls=1.2|1.3           version chosen in the ServerHello
  sni=NAME|-            server_name in the ClientHello (- = absent)
  alpn=A,B|-            ALPN list offered in the ClientHello (- = absent)
  alpn_chosen=A         ALPN in a clear ServerHello (TLS 1.2 only)
  cert_request=yes|no   CertificateRequest visible from the server
  client_cert=yes|no    non-empty Certificate visible from the client
  spiffe=URI            URI SAN in the client's visible certificate
  resumed=yes|no        1.2: ServerHello echoes a non-empty session id and no
                        server Certificate follows; 1.3: ServerHello has
                        pre_shared_key (41)
  app=http|redis        protocol tshark finds in clear in the client's bytes
  secrets=A,B           authorization (HTTP Authorization header), password
                        (form field "password"), redis-auth (RESP AUTH)
  client_data=yes|no    client sent payload bytes
  server_data=yes|no    server sent payload bytes
  server_rst=yes|no     server sent a TCP RST
  encap=vxlan:PORT:VNI  the flow is inside VXLAN on that UDP port and VNI

Each row must match exactly one TCP connection (SYN seen) between client
(IP:PORT or IP:*) and server (IP:PORT). Prints one line per check and ends
with "N passed, N failed"; exit status 1 if anything failed. Needs tshark.
"""
from __future__ import annotations

import argparse
import csv
import pathlib
import subprocess
import sys
from dataclasses import dataclass, field

FIELDS = [
    "tcp.stream", "ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "tcp.len",
    "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.reset", "tcp.payload",
    "frame.protocols", "udp.dstport", "vxlan.vni",
    "tls.handshake.type", "tls.handshake.version",
    "tls.handshake.extensions.supported_version", "tls.handshake.extension.type",
    "tls.handshake.extensions_server_name", "tls.handshake.extensions_alpn_str",
    "tls.handshake.session_id", "tls.handshake.certificates_length",
    "x509ce.uniformResourceIdentifier",
    "http.request.method", "http.authorization", "urlencoded-form.key",
]
AGG = "\x1f"  # aggregator for fields that occur several times in a packet


@dataclass
class Packet:
    values: dict[str, list[str]]

    def get(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def first(self, name: str) -> str:
        vals = self.get(name)
        return vals[0] if vals else ""

    def last(self, name: str) -> str:
        # Inner header of a tunnel: tshark lists outer then inner occurrences.
        vals = self.get(name)
        return vals[-1] if vals else ""

    def hs_types(self) -> list[str]:
        return self.get("tls.handshake.type")


@dataclass
class Flow:
    from_client: list[Packet] = field(default_factory=list)
    from_server: list[Packet] = field(default_factory=list)


def run_tshark(pcap: pathlib.Path, decode_as: list[str]) -> list[Packet]:
    cmd = ["tshark", "-n", "-r", str(pcap), "-T", "fields", "-E", "separator=\t",
           "-E", f"aggregator={AGG}", "-E", "occurrence=a"]
    for d in decode_as:
        cmd += ["-d", d]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    packets = []
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        packets.append(Packet({name: [v for v in col.split(AGG) if v != ""]
                               for name, col in zip(FIELDS, cols)}))
    return packets


def select_flows(packets: list[Packet], client: str, server: str) -> list[Flow]:
    c_ip, c_port = client.rsplit(":", 1)
    s_ip, s_port = server.rsplit(":", 1)
    flows: dict[str, Flow] = {}
    for p in packets:
        if not p.get("tcp.stream"):
            continue
        src, dst = p.last("ip.src"), p.last("ip.dst")
        sport, dport = p.last("tcp.srcport"), p.last("tcp.dstport")
        stream = p.last("tcp.stream")
        if src == c_ip and dst == s_ip and dport == s_port and c_port in ("*", sport):
            flows.setdefault(stream, Flow()).from_client.append(p)
        elif src == s_ip and dst == c_ip and sport == s_port and c_port in ("*", dport):
            flows.setdefault(stream, Flow()).from_server.append(p)
    # Only connections whose SYN we saw: the rows describe whole connections.
    return [f for f in flows.values()
            if any(p.first("tcp.flags.syn") in ("1", "True") and
                   p.first("tcp.flags.ack") in ("0", "False") for p in f.from_client)]


def payload_bytes(pkts: list[Packet]) -> int:
    return sum(int(p.last("tcp.len") or 0) for p in pkts)


def with_hs(pkts: list[Packet], hs_type: str) -> list[Packet]:
    return [p for p in pkts if hs_type in p.hs_types()]


def tls_version(flow: Flow) -> str:
    hello = with_hs(flow.from_server, "2")
    if not hello:
        return "none"
    if "0x0304" in hello[0].get("tls.handshake.extensions.supported_version"):
        return "1.3"
    return {"0x0303": "1.2", "0x0302": "1.1", "0x0301": "1.0"}.get(
        hello[0].first("tls.handshake.version"), "?")


def fact(flow: Flow, key: str) -> str:
    """The value of `key` observed on the wire, in the notation of the notes."""
    ch = with_hs(flow.from_client, "1")
    sh = with_hs(flow.from_server, "2")
    if key == "tls":
        return tls_version(flow)
    if key == "sni":
        return (ch[0].first("tls.handshake.extensions_server_name") if ch else "") or "-"
    if key == "alpn":
        return (",".join(ch[0].get("tls.handshake.extensions_alpn_str")) if ch else "") or "-"
    if key == "alpn_chosen":
        return (",".join(sh[0].get("tls.handshake.extensions_alpn_str")) if sh else "") or "-"
    if key == "cert_request":
        return "yes" if with_hs(flow.from_server, "13") else "no"
    if key == "client_cert":
        certs = with_hs(flow.from_client, "11")
        ok = any(int(v) > 0 for p in certs for v in p.get("tls.handshake.certificates_length"))
        return "yes" if ok else "no"
    if key == "spiffe":
        uris = [u for p in with_hs(flow.from_client, "11")
                for u in p.get("x509ce.uniformResourceIdentifier")]
        return ",".join(uris) or "-"
    if key == "resumed":
        if not ch or not sh:
            return "no hello"
        if tls_version(flow) == "1.3":
            return "yes" if "41" in sh[0].get("tls.handshake.extension.type") else "no"
        sid_c = ch[0].first("tls.handshake.session_id")
        sid_s = sh[0].first("tls.handshake.session_id")
        server_cert = with_hs(flow.from_server, "11")
        return "yes" if sid_c and sid_c == sid_s and not server_cert else "no"
    if key == "app":
        protos = {proto for p in flow.from_client
                  for proto in p.last("frame.protocols").split(":")}
        for app, marker in (("http", "http"), ("redis", "resp")):
            if marker in protos:
                return app
        return "-"
    if key == "secrets":
        found = []
        if any(p.get("http.authorization") for p in flow.from_client):
            found.append("authorization")
        if any("password" in p.get("urlencoded-form.key") for p in flow.from_client):
            found.append("password")
        client_bytes = b"".join(bytes.fromhex(p.last("tcp.payload")) for p in flow.from_client)
        if client_bytes.startswith(b"*2\r\n$4\r\nAUTH\r\n"):
            found.append("redis-auth")
        return ",".join(found) or "-"
    if key == "client_data":
        return "yes" if payload_bytes(flow.from_client) > 0 else "no"
    if key == "server_data":
        return "yes" if payload_bytes(flow.from_server) > 0 else "no"
    if key == "server_rst":
        rst = any(p.first("tcp.flags.reset") in ("1", "True") for p in flow.from_server)
        return "yes" if rst else "no"
    if key == "encap":
        p = flow.from_client[0]
        if "vxlan" not in p.first("frame.protocols").split(":"):
            return "-"
        return f"vxlan:{p.first('udp.dstport')}:{p.first('vxlan.vni')}"
    raise KeyError(key)


def parse_notes(notes: str) -> list[tuple[str, str]]:
    items = []
    for item in notes.split(";"):
        item = item.strip()
        if "=" in item and " " not in item.split("=", 1)[0]:
            key, value = item.split("=", 1)
            items.append((key.strip(), value.strip()))
    return items


def decode_as_for(rows: list[dict[str, str]]) -> list[str]:
    """Decode-As rules: TLS on every non-443 server port of a TLS row; VXLAN."""
    rules = set()
    for row in rows:
        notes = dict(parse_notes(row["notes"]))
        port = row["server"].rsplit(":", 1)[1]
        if "tls" in notes and port != "443":
            rules.add(f"tcp.port=={port},tls")
        if notes.get("encap", "").startswith("vxlan:"):
            rules.add(f"udp.port=={notes['encap'].split(':')[1]},vxlan")
    return sorted(rules)


def main() -> int:
    here = pathlib.Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap_dir", nargs="?", default=str(here / "pcaps"))
    ap.add_argument("--expected", default=str(here / "expected.tsv"))
    args = ap.parse_args()

    with open(args.expected, newline="") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if not r["file"].startswith("#")]
    by_file: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_file.setdefault(row["file"], []).append(row)

    passed = failed = 0

    def report(ok: bool, what: str) -> None:
        nonlocal passed, failed
        print(("PASS " if ok else "FAIL ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    for name, file_rows in by_file.items():
        pcap = pathlib.Path(args.pcap_dir) / name
        if not pcap.is_file():
            report(False, f"{name}: file missing")
            continue
        packets = run_tshark(pcap, decode_as_for(file_rows))
        for row in file_rows:
            label = f"{name} {row['client']} -> {row['server']}"
            flows = select_flows(packets, row["client"], row["server"])
            if len(flows) != 1:
                report(False, f"{label}: {len(flows)} matching connections, want 1")
                continue
            for key, want in parse_notes(row["notes"]):
                try:
                    got = fact(flows[0], key)
                except KeyError:
                    report(False, f"{label}: unknown key '{key}' in notes")
                    continue
                report(got == want, f"{label}: {key}={got}" + ("" if got == want else f" (want {want})"))
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
