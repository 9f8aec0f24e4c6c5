#!/usr/bin/env python3
"""Builds the committed seed corpora (tests/fuzz/corpus/<target>/) from the test captures.

    python3 tests/fuzz/make_seeds.py [--shared /work/shared/testdata/pcaps] [--own tests/captures/pcaps]

Frames are read with a small pcap/pcapng reader below; TCP payloads, sequence numbers and
certificates come from tshark. Every seed is in the input format of its target (see the header
comments in tests/fuzz/targets/*.hpp). Seeds are named by the SHA-1 of their content (as libFuzzer
names them), so re-running only adds what is new. The corpus stays small (< 2 MB in total): each
target gets a byte budget and seeds are capped in size.
"""
import argparse
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

# Budget per target, bytes.
BUDGET = {
    "decode_frame": 180_000, "tls_parser": 350_000, "certificate": 120_000, "plaintext": 150_000,
    "hpack": 40_000, "tcp_stream": 10_000, "engine_pcap": 400_000, "engine_packets": 300_000,
    "pcapng_reader": 200_000, "lab_spec": 40_000, "playbook": 60_000,
}
# The link-type order of kFuzzLinkTypes in targets/decode_frame.hpp.
LINK_SELECTOR = {1: 0, 0: 1, 101: 2, 108: 3, 113: 4, 228: 5, 229: 6, 276: 7, 12: 8, 14: 9,
                 9: 11, 50: 12, 104: 13, 105: 14, 127: 15, 239: 16}
# kConversationPorts in targets/engine_packets.hpp.
CONVERSATION_PORTS = [443, 80, 15008, 6379, 5432, 25, 3306, 22]


class Corpus:
    def __init__(self, target):
        self.target = target
        self.dir = os.path.join(CORPUS, target)
        os.makedirs(self.dir, exist_ok=True)
        self.used = sum(os.path.getsize(os.path.join(self.dir, f)) for f in os.listdir(self.dir))
        self.seen = set(os.listdir(self.dir))

    def add(self, data):
        name = hashlib.sha1(data).hexdigest()
        if name in self.seen or not data:
            return False
        if self.used + len(data) > BUDGET[self.target]:
            return False
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)
        self.seen.add(name)
        self.used += len(data)
        return True


# ------------------------------------------------------------------------------- capture reading

def read_frames(path):
    """[(link_type, frame bytes)] of a pcap or pcapng file (best effort: stops at damage)."""
    data = open(path, "rb").read()
    out = []
    if len(data) < 24:
        return out
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        link = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
        pos = 24
        while pos + 16 <= len(data):
            _, _, caplen, _ = struct.unpack(e + "IIII", data[pos:pos + 16])
            if pos + 16 + caplen > len(data):
                break
            out.append((link, data[pos + 16:pos + 16 + caplen]))
            pos += 16 + caplen
        return out
    if magic == b"\x0a\x0d\x0d\x0a":
        pos, e, links = 0, "<", []
        while pos + 12 <= len(data):
            if data[pos:pos + 4] == b"\x0a\x0d\x0d\x0a":
                e = "<" if data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                links = []
            btype, blen = struct.unpack(e + "II", data[pos:pos + 8])
            if blen < 12 or pos + blen > len(data):
                break
            body = data[pos + 8:pos + blen - 4]
            if btype == 1 and len(body) >= 2:
                links.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                itf, _, _, caplen, _ = struct.unpack(e + "IIIII", body[:20])
                if itf < len(links):
                    out.append((links[itf], body[20:20 + caplen]))
            pos += blen
    return out


def tshark(path, *args):
    r = subprocess.run(["tshark", "-r", path, *args], capture_output=True, text=True)
    return r.stdout


def tcp_packets(path):
    """Per TCP packet: (stream, srcport, dstport, flags, rel seq, rel ack, payload bytes)."""
    rows = []
    out = tshark(path, "-Y", "tcp", "-T", "fields", "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.dstport",
                 "-e", "tcp.flags", "-e", "tcp.seq", "-e", "tcp.ack", "-e", "tcp.payload")
    for line in out.splitlines():
        f = line.split("\t")
        if len(f) < 7 or not f[0]:
            continue
        try:
            first = lambda s: s.split(",")[-1]  # tunnels: the inner value comes last
            rows.append((int(first(f[0])), int(first(f[1])), int(first(f[2])), int(first(f[3]), 16),
                         int(first(f[4]) or 0), int(first(f[5]) or 0), bytes.fromhex(first(f[6]))))
        except ValueError:
            continue
    return rows


def streams(packets):
    """stream -> dict(client port, server port, events [(dir, payload)] in capture order, in-order bytes)."""
    out = {}
    for stream, sp, dp, flags, seq, ack, payload in packets:
        s = out.get(stream)
        if s is None:
            # The SYN sender, else the first sender, is the client.
            syn_only = (flags & 0x12) == 0x02
            synack = (flags & 0x12) == 0x12
            client, server = (dp, sp) if synack else (sp, dp)
            s = out[stream] = {"client": client, "server": server, "events": [], "data": [b"", b""],
                               "next": [None, None], "packets": []}
            del syn_only
        d = 0 if sp == s["client"] else 1
        s["packets"].append((d, flags, seq, ack, payload))
        if payload:
            nxt = s["next"][d]
            if nxt is None or seq == nxt:
                s["events"].append((d, payload))
                s["data"][d] += payload
                s["next"][d] = seq + len(payload)
    return out


def captures(dirs):
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if name.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz")):
                yield os.path.join(d, name)


def is_tls_start(b):
    return len(b) >= 3 and ((b[0] in (0x14, 0x15, 0x16, 0x17) and b[1] == 3) or (b[0] & 0x80 and len(b) > 2 and b[2] == 1))


# ------------------------------------------------------------------------------------- per target

def seed_decode_frame(files):
    c = Corpus("decode_frame")
    for path in files:
        seen_sizes = set()
        for link, frame in read_frames(path)[:400]:
            if link not in LINK_SELECTOR:
                continue
            key = (link, len(frame) // 64)  # a few frames of each size class per capture
            if key in seen_sizes or len(frame) > 1600:
                continue
            seen_sizes.add(key)
            c.add(bytes([LINK_SELECTOR[link]]) + frame)
    return c


def seed_from_streams(files):
    tls, plain, hp, pk = Corpus("tls_parser"), Corpus("plaintext"), Corpus("hpack"), Corpus("engine_packets")
    for path in files:
        pkts = tcp_packets(path)
        ss = streams(pkts)
        for sid, s in sorted(ss.items()):
            c2s, s2c = s["data"]
            if is_tls_start(c2s) or is_tls_start(s2c) or b"STARTTLS" in c2s[:2000].upper() or s["server"] in (5432, 1080):
                blob = bytearray([0])
                per_dir = [0, 0]
                for d, payload in s["events"]:
                    if per_dir[d] > 12000:
                        continue
                    per_dir[d] += len(payload)
                    blob += bytes([d]) + struct.pack(">H", len(payload)) + payload
                tls.add(bytes(blob))
            if not is_tls_start(c2s):
                plain.add(struct.pack(">HH", s["server"] & 0xFFFF, min(len(c2s), 4096)) + c2s[:4096] + s2c[:4096])
            if c2s.startswith(b"PRI * HTTP/2.0"):
                for d, data in ((0, c2s[24:]), (1, s2c)):
                    blocks = h2_header_blocks(data)
                    if blocks:
                        hp.add(bytes([0]) + b"".join(struct.pack(">H", len(b)) + b for b in blocks))
        # engine_packets: one seed per capture, its first packets mapped onto the eight conversations.
        blob = bytearray([0])
        conv_of = {}
        for sid, s in sorted(ss.items()):
            conv = CONVERSATION_PORTS.index(s["server"]) if s["server"] in CONVERSATION_PORTS else sid % 8
            conv_of[sid] = conv
        count = 0
        for stream, sp, dp, flags, seq, ack, payload in pkts:
            s = ss[stream]
            d = 0 if sp == s["client"] else 1
            payload = payload[:1500]
            blob += bytes([conv_of[stream] | (d << 3), flags & 0xFF]) + struct.pack(">IIH", seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, len(payload)) + payload
            count += 1
            if count >= 80 or len(blob) > 24000:
                break
        if count:
            pk.add(bytes(blob))
    return tls, plain, hp, pk


def h2_header_blocks(data):
    """HEADERS (+CONTINUATION) header block fragments of an HTTP/2 byte stream, padding and priority removed."""
    blocks, pos, current = [], 0, None
    while pos + 9 <= len(data) and len(blocks) < 40:
        length = int.from_bytes(data[pos:pos + 3], "big")
        ftype, flags = data[pos + 3], data[pos + 4]
        payload = data[pos + 9:pos + 9 + length]
        if len(payload) < length:
            break
        pos += 9 + length
        if ftype == 1:
            p = payload
            if flags & 0x08 and p:
                pad = p[0]
                p = p[1:len(p) - pad] if pad < len(p) else b""
            if flags & 0x20:
                p = p[5:]
            current = bytearray(p)
            if flags & 0x04:
                blocks.append(bytes(current))
                current = None
        elif ftype == 9 and current is not None:
            current += payload
            if flags & 0x04:
                blocks.append(bytes(current))
                current = None
    return blocks


def seed_certificates(files):
    c = Corpus("certificate")
    for path in files:
        out = tshark(path, "-Y", "tls.handshake.certificate", "-T", "fields", "-e", "tls.handshake.certificate")
        for line in out.splitlines():
            for h in re.split(r"[,\t]", line):
                if h:
                    try:
                        der = bytes.fromhex(h)
                    except ValueError:
                        continue
                    if len(der) <= 4000:
                        c.add(der)
    # A few key types and SAN shapes the captures may lack, made with openssl (fresh keys each time:
    # only when the corpus has none yet, so re-running does not pile them up).
    marker = b"spiffe://cluster.local/ns/default/sa/fuzz"
    if any(marker in open(os.path.join(c.dir, f), "rb").read() for f in os.listdir(c.dir)):
        return c
    with tempfile.TemporaryDirectory() as tmp:
        for algo in (["-newkey", "ed25519"], ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
                     ["-newkey", "rsa:1024"]):
            der = os.path.join(tmp, "c.der")
            r = subprocess.run(["openssl", "req", "-x509", "-nodes", *algo, "-keyout", os.path.join(tmp, "k.pem"),
                                "-subj", "/O=cluster.local/CN=fuzz", "-days", "1", "-outform", "DER", "-out", der,
                                "-addext", "subjectAltName=URI:spiffe://cluster.local/ns/default/sa/fuzz,DNS:fuzz.default.svc,IP:10.0.0.1"],
                               capture_output=True)
            if r.returncode == 0:
                c.add(open(der, "rb").read())
    return c


def seed_engine_pcap(files):
    c = Corpus("engine_pcap")
    for path in sorted(files, key=os.path.getsize):
        data = open(path, "rb").read()
        if len(data) <= 21000:  # many_interfaces-1.pcapng (mixed link types: our pcapng fallback) is 20.7 KB
            c.add(data)
    return c


def seed_pcapng(files):
    c = Corpus("pcapng_reader")
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(files, key=os.path.getsize):
            data = open(path, "rb").read()
            if path.endswith(".pcapng"):
                if len(data) <= 25000:
                    c.add(data)
            elif len(data) <= 8000 and shutil.which("editcap"):
                out = os.path.join(tmp, "x.pcapng")
                if subprocess.run(["editcap", "-F", "pcapng", path, out], capture_output=True).returncode == 0:
                    c.add(open(out, "rb").read())
    return c


def seed_lab_spec():
    c = Corpus("lab_spec")
    src = open(os.path.join(REPO, "provision", "spec_default.cpp")).read()
    m = re.search(r'R"yaml\((.*?)\)yaml"', src, re.S)
    if m:
        c.add(m.group(1).encode())
    doc = os.path.join(REPO, "docs", "lab-spec.md")
    if os.path.exists(doc):
        for block in re.findall(r"```ya?ml\n(.*?)```", open(doc).read(), re.S):
            c.add(block.encode())
    for extra in (b"", b"name: x\n", b"metallb:\n  pool:\n    addresses: [192.168.1.240-192.168.1.250]\n",
                  b"istio:\n  mode: ambient\n  mtls: STRICT\n", b"kind: Lab\napiVersion: meshproof.dev/v1alpha1\nnmae: typo\n"):
        c.add(extra)
    return c


def seed_hpack_rfc():
    """RFC 7541 Appendix C: requests with and without Huffman (one connection each), a response
    sequence with a 256-byte table, a size update and a never-indexed literal."""
    c = Corpus("hpack")
    def conn(config, *blocks):
        return bytes([config]) + b"".join(struct.pack(">H", len(b)) + b for b in (bytes.fromhex(x) for x in blocks))
    c.add(conn(0, "828684410f7777772e6578616d706c652e636f6d", "828684be58086e6f2d6361636865",
               "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"))
    c.add(conn(0, "828684418cf1e3c2e5f23a6ba0ab90f4ff", "828684be5886a8eb10649cbf",
               "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"))
    c.add(conn(64, "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
               "4803333037c1c0bf"))
    c.add(conn(0, "3fe11f", "100870617373776f726406736563726574"))
    return c


def seed_playbook():
    """The repository's playbooks (mode byte 0: a playbook), assert expressions (240: over an audit,
    248: over a diff) and durations, in the input format of targets/playbook.hpp."""
    c = Corpus("playbook")
    pdir = os.path.join(REPO, "playbooks")
    if os.path.isdir(pdir):
        for name in sorted(os.listdir(pdir)):
            if name.endswith((".yaml", ".yml")):
                c.add(b"\0" + open(os.path.join(pdir, name), "rb").read())
    for text in (b"plaintext-served == 0", b"istio-mtls >= 2", b"secrets == 0", b"policy violations == 0",
                 b"flows > 10", b"500ms", b"2m", b"1h", b"out=/tmp/x"):
        c.add(bytes([240]) + text)
    for text in (b"still-plaintext == 0", b"secured >= 1", b"vanished == 0"):
        c.add(bytes([248]) + text)
    return c


def seed_tcp_stream():
    c = Corpus("tcp_stream")
    def seg(off, length, cut=0):
        return bytes([0]) + struct.pack(">hHB", off, length, cut)
    isn = struct.pack(">I", 0xFFFFFF00)  # wraps at 2^32 inside the stream
    c.add(isn + bytes([2, 0, 0]) + seg(0, 100) + seg(100, 100) + seg(200, 50))
    c.add(isn + bytes([2, 0, 0]) + seg(100, 100) + seg(300, 10) + seg(0, 100) + seg(200, 100))
    c.add(isn + bytes([3, 3, 3]) + seg(0, 50) + seg(60, 10) + bytes([3]) + struct.pack(">h", 70) + bytes([4]))
    c.add(isn + bytes([0, 0, 0]) + seg(500, 100) + seg(400, 100) + seg(600, 100, 0x90))
    c.add(isn + bytes([2, 0, 0]) + seg(0, 2000) + seg(50, 100) + bytes([0x40]) + struct.pack(">hHB", 10, 20, 0))
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared", "testdata", "pcaps"))
    ap.add_argument("--own", default=os.path.join(REPO, "tests", "captures", "pcaps"))
    # Link layers, encapsulations and file formats (NFLOG, MPLS, radiotap, PPP, CAPWAP, gzip, mixed
    # snapshot lengths) for the decoder and reader targets.
    ap.add_argument("--more", default=os.path.join(REPO, "..", "shared", "testdata", "pcaps-more"))
    a = ap.parse_args()
    files = list(captures([a.shared, a.own]))
    if not files:
        sys.exit("no captures found")
    more = list(captures([a.more]))
    made = [seed_decode_frame(files + more), *seed_from_streams(files), seed_certificates(files),
            seed_engine_pcap(files + more), seed_pcapng(files + more), seed_lab_spec(), seed_tcp_stream(),
            seed_hpack_rfc(), seed_playbook()]
    for c in made:
        print(f"{c.target:16} {len(c.seen):4} seeds {c.used:8} bytes")


if __name__ == "__main__":
    main()
