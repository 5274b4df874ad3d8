#!/usr/bin/env python3
"""Input for the power-loss workloads: deterministic `ingest` lines.

    gen.py WRITER COUNT [--pause SECONDS] [--burst N]

Prints COUNT JSON lines for `convlog ingest`. Line I of writer W is always the
same message (see `message`), so the checker can tell from an ack `I SEQ`
alone what record SEQ must hold. `--pause` sleeps after every `--burst` lines
so that the lines reach `ingest` as a trickle and become many small batches
(many write + fdatasync pairs for the power cut to land between), as they
would from a live agent.
"""

import argparse
import json
import sys
import time

# Text that exercises JSON escapes, multi-byte UTF-8 and long lines: a record
# longer than a page lets the torn-write modes cut it in the middle.
PIECES = [
    "Can you book the 7:40 train to Jaipur?",
    "नमस्कार, अगले महीने के पहले हफ़्ते में।",
    'quote " backslash \\ tab \t newline \n done',
    "शुभ यात्रा! 🙏 ₹2,400 a night",
    "control \u0001\u001f and DEL \u007f",
]


def message(writer: str, i: int) -> dict:
    """The I-th input line of WRITER (1-based), as a dict."""
    size = (i * 37 + len(writer) * 101) % 7
    body = " | ".join(PIECES[(i + k) % len(PIECES)] for k in range(1 + size))
    if i % 11 == 0:
        body += " " + "x" * (3000 + i % 1500)  # crosses a 4 KiB page
    return {
        "role": "user" if i % 3 else "agent",
        "content": f"{writer}#{i} {body}",
        "source": f"powerloss-{writer}",
        "meta": {"writer": writer, "line": i},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("writer")
    ap.add_argument("count", type=int)
    ap.add_argument("--pause", type=float, default=0.0)
    ap.add_argument("--burst", type=int, default=1)
    a = ap.parse_args()
    out = sys.stdout
    for i in range(1, a.count + 1):
        out.write(json.dumps(message(a.writer, i), ensure_ascii=False) + "\n")
        if a.pause and i % a.burst == 0:
            out.flush()
            time.sleep(a.pause)
    out.flush()


if __name__ == "__main__":
    try:
        main()
    except BrokenPipeError:
        sys.exit(1)
