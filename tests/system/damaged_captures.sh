#!/usr/bin/env bash
# `meshproof audit read --json` on damaged capture files, built here from a real capture:
#   - truncated at every kind of boundary: file header, record header, record body (classic pcap);
#     section header, interface description, packet block header and body (pcapng, read by libpcap
#     and, when the file mixes link types, by our fallback reader);
#   - every bit of the first 200 bytes flipped, one at a time, and random flips elsewhere (fixed seed);
#   - record lengths of zero and 4 GiB, block lengths of 0 and ~4 GiB, an EPB naming an undescribed
#     interface; empty file, header-only files, garbage, garbage after a valid header;
#   - two captures glued together (cat a b), unsupported link types, a pcapng whose IDB has an
#     unknown link type (alone, and next to an Ethernet interface);
#   - the same capture as NFLOG, MPLS, 802.11 + radiotap (and all frames protected), PPP, pcapng with
#     different snapshot lengths, gzip-compressed: whole, cut mid-record, and (gzip) truncated at
#     several points and with random bit flips in the compressed bytes.
# (audit_read_inputs.sh already covers: missing file, a text file, one mid-packet cut, every 37th cut
# point, a classic pcap of link type USER0, the 24-byte empty.pcap.)
#
# Every run must: exit 0, 1 or 4 (never a signal, never >= 5), finish within 10 s, print valid JSON
# lines (strict UTF-8; the last one the summary, its flow count = the flow lines), and when the input
# is damaged print exactly one stderr line naming the file, the packet number and the byte offset of
# the damaged record (exit 4) or the file (exit 1); the summary's input error says the same.
set -uo pipefail
: "${MESHPROOF:?}" "${MESHPROOF_SOURCE_DIR:?}"
exec python3 - "$MESHPROOF" "$MESHPROOF_SOURCE_DIR/tests/captures/pcaps" <<'PY'
import json, os, random, re, struct, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor

MESHPROOF, OWN = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp(prefix="damaged-")
passed, failed = 0, []

def ok(what):
    global passed
    passed += 1

def bad(what):
    failed.append(what)
    print("FAIL " + what)

# ------------------------------------------------------------------------------ building captures

def pcap_records(data):
    """[(offset, header+body bytes)] of a classic little-endian pcap."""
    out, pos = [], 24
    while pos + 16 <= len(data):
        caplen = struct.unpack("<I", data[pos + 8:pos + 12])[0]
        out.append((pos, data[pos:pos + 16 + caplen]))
        pos += 16 + caplen
    return out

def block(btype, body):
    body += b"\0" * ((4 - len(body) % 4) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

SHB = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
def idb(link, snaplen=262144):
    return block(1, struct.pack("<HHI", link, 0, snaplen))
def epb(itf, ts_us, frame):
    return block(6, struct.pack("<IIIII", itf, ts_us >> 32, ts_us & 0xFFFFFFFF, len(frame), len(frame)) + frame)

def pcapng_from_pcap(data, mixed):
    """(bytes, [block offsets of the EPBs]) of the same packets as pcapng. mixed: a second interface of
    another link type (raw IP) is described, which libpcap refuses: our fallback reader takes over."""
    out = bytearray(SHB + idb(1) + (idb(101) if mixed else b""))
    offsets = []
    for _, rec in pcap_records(data):
        sec, usec = struct.unpack("<II", rec[:8])
        offsets.append(len(out))
        out += epb(0, sec * 1_000_000 + usec, rec[16:])
    return bytes(out), offsets

def write(name, data):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return path

# ------------------------------------------------------------------------------ running and checking

def run(path):
    try:
        p = subprocess.run([MESHPROOF, "audit", "read", "--json", path], capture_output=True, timeout=10)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return "timeout", b"", b""

ERR_FORMATS = [  # (regex, how to get the damaged packet's number)
    (re.compile(r"packet (\d+) at byte offset (\d+)"), lambda n: n),
    (re.compile(r"after packet (\d+), byte offset (\d+)"), lambda n: n + 1),
]

def check(name, path, rcs=(0, 1, 4), flows=None, min_flows=None, packet=None, offset=None, offset_range=None,
          summary_check=None):
    """One run; returns the parsed summary (or None). rcs: acceptable exit codes; packet/offset: where
    the damage is (checked when the run exits 4)."""
    rc, out, err = run(path)
    where = f"{name}: "
    if rc == "timeout":
        return bad(where + "hang (no exit within 10 s)")
    if rc < 0 or rc >= 5:
        return bad(where + f"exit {rc} (crash or signal); stderr: {err[:300]!r}")
    if rc not in rcs:
        return bad(where + f"exit {rc}, want one of {rcs}; stderr: {err[:300]!r}")
    try:
        lines = [json.loads(l) for l in out.decode("utf-8").splitlines() if l.strip()]
        summary = lines[-1]
        assert summary["type"] == "summary", "last line is not the summary"
        flow_lines = [l for l in lines if l.get("type") == "flow"]
        assert summary["flows"] == len(flow_lines), ("summary.flows", summary["flows"], len(flow_lines))
        assert sum(summary["verdicts"].values()) == len(flow_lines), "verdict counts"
    except Exception as e:  # noqa: BLE001 - any failure to parse is the finding
        return bad(where + f"invalid JSON output: {e!r}")
    if flows is not None and len(flow_lines) != flows:
        return bad(where + f"{len(flow_lines)} flows, want {flows}")
    if min_flows is not None and len(flow_lines) < min_flows:
        return bad(where + f"{len(flow_lines)} flows, want at least {min_flows} (flows before the damage)")
    err_lines = [l for l in err.decode("utf-8", "replace").splitlines() if l.strip()]
    base = os.path.basename(path)
    if rc == 0:
        if err_lines:
            return bad(where + f"exit 0 but stderr: {err_lines[:2]}")
        return ok(name) or summary
    if len(err_lines) != 1:
        return bad(where + f"want exactly one error line, got {len(err_lines)}: {err_lines[:3]}")
    line = err_lines[0]
    if not line.startswith("meshproof: ") or base not in line:
        return bad(where + f"error line does not name the file: {line}")
    if "link type link type" in line:
        return bad(where + f"garbled error line: {line}")
    inp = summary["inputs"][0]
    if inp.get("error") is None or inp["error"] not in line:
        return bad(where + f"summary input error {inp.get('error')!r} differs from stderr {line!r}")
    if rc == 4:
        if inp.get("error_kind") not in ("truncated", "corrupt"):
            return bad(where + f"exit 4 with error_kind {inp.get('error_kind')!r}")
        for rx, damaged in ERR_FORMATS:
            m = rx.search(line)
            if m:
                got_packet, got_offset = damaged(int(m.group(1))), int(m.group(2))
                break
        else:
            return bad(where + f"error names no packet number and byte offset: {line}")
        if packet is not None and got_packet != packet:
            return bad(where + f"error names packet {got_packet}, the damaged one is {packet}: {line}")
        if offset is not None and got_offset != offset:
            return bad(where + f"error names byte offset {got_offset}, the damaged record starts at {offset}: {line}")
        if offset_range is not None and not offset_range[0] <= got_offset < offset_range[1]:
            return bad(where + f"error names byte offset {got_offset}, the damage is in [{offset_range[0]}, {offset_range[1]}): {line}")
    if summary_check:
        msg = summary_check(summary)
        if msg:
            return bad(where + msg)
    ok(name)
    return summary

def check_many(cases):
    """cases: [(name, path, kwargs)], run two at a time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda c: check(c[0], c[1], **c[2]), cases))

src = open(os.path.join(OWN, "istio-mtls-tls12.pcap"), "rb").read()
small = open(os.path.join(OWN, "redis-auth.pcap"), "rb").read()
assert src[:4] == b"\xd4\xc3\xb2\xa1" and small[:4] == b"\xd4\xc3\xb2\xa1", "test captures must be little-endian pcap"
records = pcap_records(src)
n_flows_full = 1

# 1. Classic pcap truncated at every kind of boundary.
cases = [("empty file (0 bytes)", write("empty.pcap", b""), dict(rcs=(1,), flows=0))]
for cut in (1, 4, 12, 23):
    cases.append((f"pcap cut in the file header at {cut}", write(f"hdr{cut}.pcap", src[:cut]), dict(rcs=(1,), flows=0)))
for k, (off, rec) in enumerate(records):
    # Cut exactly between records: a clean, shorter capture.
    cases.append((f"pcap cut after record {k}", write(f"at{k}.pcap", src[:off]), dict(rcs=(0,))))
    if k < 3 or k == len(records) - 1:
        for d in (1, 8, 15):
            cases.append((f"pcap cut in record {k + 1}'s header (+{d})", write(f"rh{k}_{d}.pcap", src[:off + d]),
                          dict(rcs=(4,), packet=k + 1, offset=off)))
        for d in (16, 17, 16 + (len(rec) - 16) // 2, len(rec) - 1):
            if d < len(rec):
                cases.append((f"pcap cut in record {k + 1}'s body (+{d})", write(f"rb{k}_{d}.pcap", src[:off + d]),
                              dict(rcs=(4,), packet=k + 1, offset=off)))
check_many(cases)

# 2. pcapng truncated at every kind of boundary, through libpcap and through our fallback reader.
for mixed in (False, True):
    path_name = "fallback" if mixed else "libpcap"
    ng, epbs = pcapng_from_pcap(src, mixed)
    idb_end = epbs[0]
    cases = []
    for cut in (4, 12, 20, len(SHB) - 4):
        cases.append((f"pcapng ({path_name}) cut in the section header at {cut}", write(f"ng{mixed}_shb{cut}.pcapng", ng[:cut]),
                      dict(rcs=(1,), flows=0)))
    # Only a section header: libpcap refuses it, but it is a capture of nothing, like a 24-byte pcap:
    # 0 flows, exit 0 (documented in docs/architecture.md, "Capture files").
    cases.append((f"pcapng ({path_name}) section header only", write(f"ng{mixed}_shbonly.pcapng", ng[:len(SHB)]),
                  dict(rcs=(0,), flows=0)))
    cases.append((f"pcapng ({path_name}) cut in an interface description", write(f"ng{mixed}_idb.pcapng", ng[:len(SHB) + 10]),
                  dict(rcs=(1,), flows=0)))
    cases.append((f"pcapng ({path_name}) headers only", write(f"ng{mixed}_hdr.pcapng", ng[:idb_end]), dict(rcs=(0,), flows=0)))
    for k, off in enumerate(epbs):
        end = epbs[k + 1] if k + 1 < len(epbs) else len(ng)
        cases.append((f"pcapng ({path_name}) cut after block {k}", write(f"ng{mixed}_at{k}.pcapng", ng[:off]), dict(rcs=(0,))))
        if k < 3 or k == len(epbs) - 1:
            for d in (4, 8, 20, 28, (end - off) // 2, end - off - 1):
                cases.append((f"pcapng ({path_name}) cut in packet block {k + 1} (+{d})", write(f"ng{mixed}_b{k}_{d}.pcapng", ng[:off + d]),
                              dict(rcs=(4,), packet=k + 1, offset=off)))
    check_many(cases)

# 3. Record and block lengths: zero, 4 GiB, beyond the file; an undescribed interface.
r1_end = records[1][0]
def rec_hdr(caplen, wirelen):
    return struct.pack("<IIII", 1700000000, 0, caplen, wirelen)
cases = [
    ("pcap record of length zero", write("zero.pcap", src[:r1_end] + rec_hdr(0, 0) + src[r1_end:]), dict(rcs=(0,), flows=n_flows_full)),
    ("pcap record of 4 GiB", write("len4g.pcap", src[:r1_end] + rec_hdr(0xFFFFFFFF, 0xFFFFFFFF) + b"x" * 64),
     dict(rcs=(4,), packet=2, offset=r1_end)),
    ("pcap record longer than the rest of the file", write("len70k.pcap", src[:r1_end] + rec_hdr(70000, 70000) + b"x" * 64),
     dict(rcs=(4,), packet=2, offset=r1_end)),
    ("pcap wire length below captured length", write("wirelt.pcap", src[:r1_end] + rec_hdr(74, 10) + records[0][1][16:] + src[r1_end:]),
     dict(rcs=(0,))),
]
for mixed in (False, True):
    path_name = "fallback" if mixed else "libpcap"
    ng, epbs = pcapng_from_pcap(src, mixed)
    b2 = epbs[1]
    def patched(at, value, ng=ng, b2=b2):
        out = bytearray(ng)
        out[b2 + at:b2 + at + 4] = struct.pack("<I", value)
        return bytes(out)
    cases += [
        (f"pcapng ({path_name}) packet block captured length 4 GiB", write(f"ng{mixed}_cap4g.pcapng", patched(20, 0xFFFFFFFF)),
         dict(rcs=(4,), packet=2, offset=b2)),
        (f"pcapng ({path_name}) block length 0", write(f"ng{mixed}_blk0.pcapng", patched(4, 0)), dict(rcs=(4,), packet=2, offset=b2)),
        (f"pcapng ({path_name}) block length ~4 GiB", write(f"ng{mixed}_blk4g.pcapng", patched(4, 0xFFFFFFFC)),
         dict(rcs=(4,), packet=2, offset=b2)),
        # Above the reader's 256 MiB block bound: refused before anything is read or allocated.
        (f"pcapng ({path_name}) block length 300 MiB", write(f"ng{mixed}_blk300m.pcapng", patched(4, 300 << 20)),
         dict(rcs=(4,), packet=2, offset=b2)),
        # Within the bound, beyond the end of the file: truncated, again before reading it.
        (f"pcapng ({path_name}) block length 64 MiB in a small file", write(f"ng{mixed}_blk64m.pcapng", patched(4, 64 << 20)),
         dict(rcs=(4,), packet=2, offset=b2)),
        (f"pcapng ({path_name}) block length not a multiple of 4", write(f"ng{mixed}_blk13.pcapng", patched(4, 13)),
         dict(rcs=(4,), packet=2, offset=b2)),
        (f"pcapng ({path_name}) packet on an undescribed interface", write(f"ng{mixed}_itf9.pcapng", patched(8, 9)),
         dict(rcs=(4,), packet=2, offset=b2)),
    ]
check_many(cases)

# 4. Empty, header-only and garbage files.
rng = random.Random(20240601)
garbage = bytes(rng.getrandbits(8) for _ in range(65536))
ng_hdr = pcapng_from_pcap(src, False)[0][:len(SHB) + len(idb(1))]
check_many([
    ("garbage (64 KiB of random bytes)", write("garbage.pcap", garbage), dict(rcs=(1,), flows=0)),
    ("garbage after a valid pcap header", write("garbage_hdr.pcap", src[:24] + garbage[:4096]), dict(rcs=(4,), flows=0, packet=1, offset=24)),
    ("garbage after a valid pcapng header", write("garbage_hdr.pcapng", ng_hdr + garbage[:4096]),
     dict(rcs=(4,), flows=0, packet=1, offset=len(ng_hdr))),
    ("a text file with a .pcapng name", write("notes.pcapng", b"# notes\n" * 100), dict(rcs=(1,), flows=0)),
])

# 5. Two captures glued together (cat a b). tcpdump and tshark stop at the second file header
# ("invalid packet capture length"); we recognise a capture file header at a record (block) boundary
# and read on with its own link type, byte order and time resolution: exit 0, the flows of both.
def to_be_nano(data):
    """The same classic pcap, big-endian with nanosecond timestamps."""
    _, _, _, _, _, snaplen, link = struct.unpack("<IHHiIII", data[:24])
    out = bytearray(struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, snaplen, link))
    for _, rec in pcap_records(data):
        sec, usec, cap, wire = struct.unpack("<IIII", rec[:16])
        out += struct.pack(">IIII", sec, usec * 1000, cap, wire) + rec[16:]
    return bytes(out)
ng_a, _ = pcapng_from_pcap(src, False)
ng_b, _ = pcapng_from_pcap(small, False)
ng_mixed, _ = pcapng_from_pcap(src, True)
small_records = pcap_records(small)
check_many([
    ("pcap + pcap glued", write("glued.pcap", src + small), dict(rcs=(0,), flows=2)),
    ("pcap + big-endian nanosecond pcap glued", write("glued_be.pcap", src + to_be_nano(small)), dict(rcs=(0,), flows=2)),
    ("big-endian nanosecond pcap + pcap glued", write("glued_be2.pcap", to_be_nano(small) + src), dict(rcs=(0,), flows=2)),
    ("pcap + pcap + pcap glued", write("glued3.pcap", src + small + src), dict(rcs=(0,), min_flows=2)),
    # A second pcapng section is legal pcapng: both are read.
    ("pcapng + pcapng glued (two sections)", write("glued.pcapng", ng_a + ng_b), dict(rcs=(0,), flows=2)),
    ("pcapng + pcap glued", write("glued_mixed.pcapng", ng_a + small), dict(rcs=(0,), flows=2)),
    ("pcap + pcapng glued", write("glued_mixed.pcap", src + ng_b), dict(rcs=(0,), flows=2)),
    ("pcapng (fallback reader) + pcap glued", write("glued_fallback.pcapng", ng_mixed + small), dict(rcs=(0,), flows=2)),
    ("pcap + pcapng (fallback reader) glued", write("glued_fallback.pcap", small + ng_mixed), dict(rcs=(0,), flows=2)),
    # Damage inside the second capture names the global packet number and the byte offset in the file.
    ("pcap + pcap cut in the second one's third record", write("glued_cut.pcap", src + small[:small_records[2][0] + 20]),
     dict(rcs=(4,), min_flows=1, packet=len(records) + 3, offset=len(src) + small_records[2][0])),
    # Not a capture header: still damage at the end of the first capture.
    ("pcap + 24 bytes of garbage", write("glued_garbage.pcap", src + garbage[:24]),
     dict(rcs=(4,), flows=1, packet=len(records) + 1, offset=len(src))),
])

# 6. Unsupported link types.
syn = bytes(12) + b"\x08\x00" + bytes([0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]) + \
      struct.pack(">HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 65535, 0, 0)
def unsupported(kind):
    return lambda s: None if s["inputs"][0].get("error_kind") == kind else f"error_kind {s['inputs'][0].get('error_kind')!r}, want {kind}"
def unsupported_frames(n):
    return lambda s: None if s["unsupported_link_frames"] == n else f"unsupported_link_frames {s['unsupported_link_frames']}, want {n}"
check_many([
    ("pcap of link type PPI (192)", write("ppi.pcap", struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 192) +
                                                    rec_hdr(4, 4) + b"abcd"),
     dict(rcs=(1,), flows=0, summary_check=unsupported("unsupported-link-type"))),
    ("pcap of link type 65000 (unassigned)", write("dlt65000.pcap", struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 65000) +
                                                    rec_hdr(4, 4) + b"abcd"),
     dict(rcs=(1,), flows=0, summary_check=unsupported("unsupported-link-type"))),
    ("pcapng whose only interface has an unknown link type (147)", write("idb147.pcapng", SHB + idb(147) + epb(0, 1, b"abcd")),
     dict(rcs=(1,), flows=0, summary_check=unsupported("unsupported-link-type"))),
    ("pcapng: Ethernet interface + unknown link type interface", write("idb_eth_147.pcapng",
        SHB + idb(1) + idb(147) + epb(0, 1, syn) + epb(1, 2, b"abcd") + epb(1, 3, b"efgh")),
     dict(rcs=(0,), flows=1, summary_check=unsupported_frames(2))),
])

def flipped(data, bits):
    out = bytearray(data)
    for b in bits:
        out[b // 8] ^= 1 << (b % 8)
    return bytes(out)

# 7. Other link layers and compressed files: the same capture re-framed, whole and damaged.
import gzip
def reframed(data, link, wrap, snaplen=65535):
    """The classic pcap `data` (Ethernet) with each frame rewritten by wrap(frame) under `link`."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, link))
    for _, rec in pcap_records(data):
        sec, usec, _, _ = struct.unpack("<IIII", rec[:16])
        f = wrap(rec[16:])
        out += struct.pack("<IIII", sec, usec, len(f), len(f)) + f
    return bytes(out)
def nflog(frame):
    ip = frame[14:]
    tlv = lambda t, v: struct.pack("<HH", 4 + len(v), t) + v + b"\0" * ((4 - len(v) % 4) % 4)
    return bytes([2, 0]) + struct.pack(">H", 1) + tlv(1, b"\x08\x00\x03\x00") + tlv(10, b"audit") + tlv(9, ip)
def mpls(frame):
    return frame[:12] + b"\x81\x00\x00\x07\x88\x47" + struct.pack(">I", (1000 << 12) | 64) + \
           struct.pack(">I", (2000 << 12) | 0x100 | 64) + frame[14:]
def wifi(protected):
    def wrap(frame):
        radiotap = struct.pack("<BBHI", 0, 0, 9, 0x2) + b"\x00"  # Flags only, none set
        dot11 = bytes([0x08, 0x41 if protected else 0x01]) + bytes(22)
        return radiotap + dot11 + b"\xaa\xaa\x03\x00\x00\x00" + frame[12:]
    return wrap
def ppp(frame):
    return b"\xff\x03\x00\x21" + frame[14:]
nflog_cap = reframed(src, 239, nflog)
wifi_cap = reframed(src, 127, wifi(False))
gz = gzip.compress(src, mtime=0)
ng_snap = bytearray(SHB + idb(1, 65535) + idb(1, 1500))
for i, (_, rec) in enumerate(pcap_records(src)):
    sec, usec = struct.unpack("<II", rec[:8])
    ng_snap += epb(i % 2, sec * 1_000_000 + usec, rec[16:])
link_encrypted = lambda n: (lambda s: None if s.get("link_encrypted_frames") == n else
                            f"link_encrypted_frames {s.get('link_encrypted_frames')}, want {n}")
nflog_records = pcap_records(nflog_cap)
cases = [
    ("NFLOG (239)", write("nflog.pcap", nflog_cap), dict(rcs=(0,), flows=1)),
    ("NFLOG cut in its fourth record", write("nflog_cut.pcap", nflog_cap[:nflog_records[3][0] + 30]),
     dict(rcs=(4,), min_flows=1, packet=4, offset=nflog_records[3][0])),
    ("MPLS in a VLAN", write("mpls.pcap", reframed(src, 1, mpls)), dict(rcs=(0,), flows=1)),
    ("802.11 + radiotap (127)", write("radiotap.pcap", wifi_cap), dict(rcs=(0,), flows=1)),
    ("802.11 + radiotap, every frame protected", write("radiotap_wpa.pcap", reframed(src, 127, wifi(True))),
     dict(rcs=(0,), flows=0, summary_check=link_encrypted(len(records)))),
    ("PPP (9)", write("ppp.pcap", reframed(src, 9, ppp)), dict(rcs=(0,), flows=1)),
    ("pcapng, interfaces with snapshot lengths 65535 and 1500", write("snaplens.pcapng", bytes(ng_snap)), dict(rcs=(0,), flows=1)),
    ("gzip-compressed pcap named .pcap", write("gz_named_pcap.pcap", gz), dict(rcs=(0,), flows=1)),
    ("gzip-compressed NFLOG pcap", write("nflog.pcap.gz", gzip.compress(nflog_cap, mtime=0)), dict(rcs=(0,), flows=1)),
    ("gzip-compressed pcapng with mixed link types", write("mixed.pcapng.gz", gzip.compress(ng_mixed, mtime=0)), dict(rcs=(0,), flows=1)),
]
# A truncated .gz: the packets decompressed before the cut, then one error (packet number, the byte
# offset in the decompressed capture, and gzip's reason).
def gzip_says(s):
    e = s["inputs"][0].get("error") or ""
    return None if "gzip" in e else f"error does not say gzip: {e!r}"
for frac in (0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
    cut = int(len(gz) * frac)
    cases.append((f"gzip truncated at {cut} of {len(gz)} compressed bytes", write(f"gz_cut{cut}.pcap.gz", gz[:cut]),
                  dict(rcs=(1, 4), summary_check=gzip_says)))
rng = random.Random(777)
for i in range(40):
    bits = [rng.randrange(10 * 8, len(gz) * 8) for _ in range(rng.randint(1, 8))]  # past the gzip header
    cases.append((f"gzip random flips #{i} {bits[:4]}", write(f"gzflip{i}.pcap.gz", flipped(gz, bits)), dict()))
check_many(cases)

# 8. Bit flips: every bit of the first 200 bytes of a small capture, then random flips anywhere.
cases = []
for bit in range(min(200, len(small)) * 8):
    cases.append((f"redis-auth.pcap with bit {bit} flipped", write(f"flip{bit}.pcap", flipped(small, [bit])), dict()))
rng = random.Random(424242)
for i in range(150):
    bits = [rng.randrange(len(src) * 8) for _ in range(rng.randint(1, 16))]
    cases.append((f"istio-mtls-tls12.pcap random flips #{i} {bits[:4]}", write(f"rflip{i}.pcap", flipped(src, bits)), dict()))
for mixed in (False, True):
    ng, _ = pcapng_from_pcap(src, mixed)
    for i in range(75):
        bits = [rng.randrange(len(ng) * 8) for _ in range(rng.randint(1, 16))]
        cases.append((f"pcapng ({'fallback' if mixed else 'libpcap'}) random flips #{i} {bits[:4]}",
                      write(f"ngflip{mixed}_{i}.pcapng", flipped(ng, bits)), dict()))
before = len(failed)
check_many(cases)
print(f"bit flips: {len(cases)} damaged files, {len(failed) - before} failures")

print(f"{passed} passed, {len(failed)} failed")
subprocess.run(["rm", "-rf", tmp])
sys.exit(1 if failed else 0)
PY
