#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/seeds/TARGET/) from the
repository's own logs and seed files (conversations/, tests/golden/) and a
few hand-made damaged and tool-call logs. Run from anywhere; it rewrites the
seed directories. The first byte of a file-shaped seed is the target's flag
byte (see fuzz/src/lib.rs): 0 = the bytes as they are, 1 = checksums fixed."""

import json
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = Path(__file__).resolve().parent


def line(body: dict) -> bytes:
    """One convlog line with a correct checksum; keys in the given order."""
    rest = json.dumps(body, ensure_ascii=False, separators=(",", ":"))[1:]
    crc = zlib.crc32(rest.encode()) & 0xFFFFFFFF
    return f'{{"crc":"{crc:08x}",{rest}'.encode() + b"\n"


HEADER = {"kind": "header", "seq": 0, "format": "convlog", "version": 1,
          "session": "6b1f2c9e0d4a4e8f9a7c3b5d1e2f4a6c", "created": "2025-08-18T14:30:21.998042+05:30"}


def msg(seq, role="user", content="hello", **extra):
    d = {"kind": "message", "seq": seq, "ts": f"2025-08-18T14:30:{20 + seq % 40:02d}.123456+05:30",
         "role": role, "content": content, "source": "deepgram_stt"}
    d.update(extra)
    return d


def synthetic() -> dict:
    tool = {"kind": "tool", "seq": 2, "ts": "2025-08-18T14:30:25.500000+05:30", "name": "lookup_weather",
            "call_id": "call_1", "arguments": "{\"city\": \"Pune\"}", "output": "sunny, 31°C",
            "duration_ms": 84.25, "turn": "speech_2", "source": "livekit"}
    handoff = {"kind": "handoff", "seq": 4, "ts": "2025-08-18T14:30:29.000000+05:30", "from": "greeter",
               "to": "billing", "turn": "t1", "source": "livekit"}
    end = {"kind": "end", "seq": 5, "ts": "2025-08-18T14:30:30.000001+05:30"}
    ok = b"".join(line(x) for x in [HEADER, msg(1, meta={"confidence": 0.94, "n": 1e5}), tool,
                                    msg(3, "agent", "Line\nbreak \"quoted\" \\ \u0007 नमस्ते", turn="t1",
                                        interrupted=True, speaker="s1", lang="hi"), handoff, end])
    lines = ok.splitlines(keepends=True)
    return {
        "synthetic_ok": ok,
        "synthetic_torn": ok[:-10],
        "synthetic_gap": b"".join(lines[:2] + lines[3:]),
        "synthetic_corrupt": b"".join(lines[:2]) + lines[2].replace(b"Pune", b"Puna") + b"".join(lines[3:]),
        "synthetic_after_end": ok + line(msg(6)),
        "synthetic_no_header": b"".join(lines[1:]),
        "synthetic_version_2": line(dict(HEADER, version=2)) + b"".join(lines[1:]),
    }


def write(target: str, name: str, data: bytes):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main():
    logs = {p.stem + p.suffix: p.read_bytes() for p in
            [ROOT / "conversations/conversation_20250818_143022.jsonl",
             ROOT / "tests/golden/conversation_20250818_143022.jsonl",
             ROOT / "tests/golden/conversation_20250818_143022.rfc3339.jsonl"]}
    logs.update(synthetic())
    for target in ["scan", "repair", "ship_read"]:
        for name, data in logs.items():
            write(target, name, b"\x00" + data)
        write(target, "fixed_crcs", b"\x01" + logs["synthetic_corrupt"])
        write(target, "not_a_log", b"\x00" + b'{"todo": "call back"}\n')
    n = 0
    for l in dict.fromkeys(l for data in logs.values() for l in data.splitlines()):
        n += 1
        write("line_decode", f"line_{n:03d}", b"\x00" + l)
    write("line_decode", "fixed_crc", b"\x01" + b'{"crc":"00000000","kind":"message","seq":1}')
    for p in [ROOT / "conversations/conversation_20250818_143022.json",
              ROOT / "tests/golden/conversation_20250818_143022.json"]:
        data = p.read_bytes()
        write("import", p.parent.name + "_indent2.json", data)
        compact = json.dumps(json.loads(data), ensure_ascii=False).encode()
        write("import", p.parent.name + "_compact.json", compact)
    write("import", "blank_and_extra.json", json.dumps({"conversation": [
        {"role": "agent", "content": " ", "timestamp": "2025-08-18T14:30:22", "source": "cartesia_tts",
         "extra": [1, 2]},
        {"role": "user", "content": "hi", "timestamp": "2025-08-18T14:30:22.5+05:30", "source": "s"}],
        "other": True}, ensure_ascii=False).encode())
    ingest = [
        {"role": "user", "content": "hi", "source": "stt"},
        {"role": "agent", "content": "नमस्ते \"x\"\n", "source": "tts", "turn": 3, "interrupted": True,
         "speaker": "a", "lang": "hi", "meta": {"latency_ms": 412, "big": 123456789012345678901234567890,
                                               "e": 1e5, "nested": {"z": [1, 2.5, None]}}},
        {"role": "user", "content": "t", "source": "s", "timestamp": "2025-08-18T14:30:22.123456"},
        {"role": "user", "content": "t", "source": "s", "timestamp": "2025-08-18T14:30:22Z", "turn": "t1"},
    ]
    for i, obj in enumerate(ingest):
        write("ingest_line", f"line_{i}", json.dumps(obj, ensure_ascii=False).encode())
    write("ingest_line", "not_an_object", b"[1,2,3]")
    # What the redactor looks for, in content the shipper reads.
    pii = b"".join(line(x) for x in [HEADER, msg(1, content="card 4111 1111 1111 1111, mail a.b@example.com, "
                                                  "call +91 98765 43210"), msg(2, "agent", "IBAN DE89370400440532013000")])
    write("ship_read", "pii_redacted", b"\x02" + pii)
    times = ["2025-08-18T14:30:22.123456+05:30", "2025-08-18T14:30:22.123456", "2025-08-18 14:30:22",
             "2025-08-18T14:30:22Z", "2025-08-18T14:30+05:30", "2025-08-18", "2025-08-18T14:30",
             "2016-12-31T23:59:60.123456+00:00", "2025-08-18T14:30:22.123456789-00:00",
             "2025-03-09T02:30:00", "+10000-01-01T00:00:00Z"]
    for i, t in enumerate(times):
        write("time", f"ts_{i:02d}", t.encode())


if __name__ == "__main__":
    main()
