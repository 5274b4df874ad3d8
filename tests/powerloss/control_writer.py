#!/usr/bin/env python3
"""A deliberately wrong writer, to check the checker.

    control_writer.py DIR COUNT

Writes a valid convlog log (same line format and CRCs, so `convlog verify`
reads it) the way convlog must not: the new file's data is fdatasynced but its
directory never is, and each record is acknowledged as soon as `write`
returns, never synced. Under strict power-loss rules the printed log path and
every acked record must be reported lost; a checker that passes this workload
cannot see what it is meant to see.

Like a convlog ingest writer it records its log in ./ingest.A and its acks in
./acks.A (lines `LINE SEQ`), and prints `log: PATH` on stdout.
"""

import datetime
import json
import os
import sys
import time
import zlib

from gen import message  # beside this script, so on sys.path


def line(fields: dict) -> bytes:
    body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))[1:].encode()
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return b'{"crc":"%08x",' % crc + body + b"\n"


def main() -> None:
    d, count = sys.argv[1], int(sys.argv[2])
    now = datetime.datetime.now().astimezone().isoformat(timespec="microseconds")
    path = os.path.join(d, "conversation_control.jsonl")
    with open("ingest.A", "w") as f:
        f.write(path + "\n")
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_APPEND, 0o600)
    os.write(
        fd,
        line(
            {
                "kind": "header",
                "seq": 0,
                "format": "convlog",
                "version": 1,
                "session": "0" * 32,
                "created": now,
            }
        ),
    )
    os.fdatasync(fd)  # the data, but not the name
    print("log: " + path, flush=True)
    with open("acks.A", "w") as acks:
        for i in range(1, count + 1):
            m = message("A", i)
            os.write(
                fd,
                line(
                    {
                        "kind": "message",
                        "seq": i,
                        "ts": now,
                        "role": m["role"],
                        "content": m["content"],
                        "source": m["source"],
                        "meta": m["meta"],
                    }
                ),
            )
            acks.write(f"{i} {i}\n")  # acked before any fdatasync: wrong
            acks.flush()
            time.sleep(0.002)


if __name__ == "__main__":
    main()
