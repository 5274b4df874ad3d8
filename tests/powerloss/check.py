#!/usr/bin/env python3
"""Checker for convlog's power-loss workloads: the README's "Durability and
recovery" promises, asked of the disk as it is after the power cut.

    check.py WORKLOAD [--expect-loss]     after a cut (env from powerloss.py)
    check.py --manifest ROOT              what the setup left: printed as JSON

After a cut (PL_OUT = the disk after reboot), for every log and export:

1. Every acknowledged record is in its log with its content: for each ingest
   writer W (./ingest.W names its log, ./acks.W holds the `LINE SEQ` lines
   convlog printed), record SEQ holds line LINE of gen.py's writer W.
2. Every log verifies (`convlog verify --json`, the built binary) intact or
   with a torn tail only. In `pages` mode a hole in the unsynced suffix may
   read as a corrupt record, as the README says; it is accepted only when
   every damaged byte lies past everything acknowledged or durable before,
   and `--recovery point-in-time` must then still give every acked record.
3. The export tolerates the tail (`convlog export --no-merge` succeeds and
   holds exactly the log's readable records) and the next append repairs it
   (on a copy: `convlog append` succeeds, the log then verifies intact with
   one more record, and LOG.broken holds exactly the cut bytes).
4. Every log path convlog printed exists; an export reported done exists and
   is whole (byte for byte what `convlog export` renders from its log), and
   any export that exists at all is whole and belongs to an ended log.
5. Nothing that existed durably before is gone: every file the setup left is
   there, an export unchanged, a log with its old bytes as a prefix.

verify's report is read only for its `damage` list (kind and offset of each
damaged line) and its message count, so the checker does not depend on how
the rest of `--json` is shaped.

Prints one line per broken promise, then a JSON line of counters (summed by
powerloss.py). Exits 1 when a promise broke, 0 otherwise. With --expect-loss
(the control_writer.py workload) lost acks and missing printed paths are
counted but are not a failure; the runner then requires that they occurred.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

from gen import message  # beside this script, so on sys.path

PROBE_TEXT = "probe: appended after the power cut"


def manifest(root: str) -> dict:
    files = {}
    for d, dirs, names in os.walk(root):
        dirs.sort()
        for n in sorted(names):
            p = os.path.join(d, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                data = f.read()
            files[os.path.relpath(p, root)] = {
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "log": n.endswith(".jsonl") and not n.startswith("."),
            }
    return {"files": files}


def parse_log(data: bytes) -> dict:
    """Records by seq, each with its line's end offset, from whole lines."""
    recs = {}
    off = 0
    for line in data.split(b"\n")[:-1]:
        end = off + len(line) + 1
        try:
            r = json.loads(line)
        except ValueError:
            r = None
        if isinstance(r, dict) and isinstance(r.get("seq"), int):
            r["_end"] = end
            recs.setdefault(r["seq"], r)
        off = end
    return recs


def message_count(rep: dict):
    """verify's message count: a number, or an object with a total."""
    m = rep.get("messages")
    return m.get("total") if isinstance(m, dict) else m


def err_text(r: subprocess.CompletedProcess) -> str:
    return r.stderr.decode(errors="replace").strip()[:300]


class Checker:
    def __init__(self, workload: str, expect_loss: bool):
        self.workload = workload
        self.expect_loss = expect_loss
        self.convlog = os.environ["CONVLOG"]
        self.out = os.environ["PL_OUT"]
        self.mnt = os.environ["PL_MNT"].rstrip("/")
        self.cdir = os.environ.get("PL_CYCLE_DIR", ".")
        self.mode = os.environ.get("PL_MODE", "?")
        self.violations = []
        self.c = dict.fromkeys(
            [
                "acked",
                "lost",
                "cycles_with_loss",
                "logs",
                "torn_tails",
                "holes",
                "repaired",
                "printed_logs",
                "missing_printed",
                "exports_done",
                "exports_present",
                "pre_files",
                "violations",
            ],
            0,
        )
        # log path in PL_OUT -> byte offset before which no damage is allowed
        self.protected = {}
        self.acked_seqs = {}

    def bad(self, msg: str) -> None:
        self.violations.append(msg)
        print("VIOLATION: " + msg)

    def loss(self, msg: str) -> None:
        if self.expect_loss:
            print("expected: " + msg)
        else:
            self.bad(msg)

    def mapped(self, path: str) -> str:
        if path == self.mnt or path.startswith(self.mnt + "/"):
            return self.out + path[len(self.mnt) :]
        return path

    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.out)

    def run(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, NO_COLOR="1")
        return subprocess.run(
            [self.convlog, *args], check=False, capture_output=True, env=env, timeout=60
        )

    def protect(self, log: str, offset: int) -> None:
        self.protected[log] = max(self.protected.get(log, 0), offset)

    def verify(self, log: str):
        r = self.run("verify", "--json", log)
        text = r.stdout.decode(errors="replace").strip()
        try:
            rep = json.loads(text.splitlines()[-1])
        except (ValueError, IndexError):
            rep = None
        if not isinstance(rep, dict) or not isinstance(rep.get("damage"), list):
            self.bad(
                f"{self.rel(log)}: `convlog verify --json` gave no report "
                f"(exit {r.returncode}): {text[:300]} {err_text(r)}"
            )
            return None
        return rep

    # ------------------------------------------------------------ promises
    def check_pre_existing(self) -> None:
        path = os.path.join(self.cdir, "manifest.json")
        if not os.path.exists(path):
            return
        with open(path) as f:
            files = json.load(f)["files"]
        for rel, m in files.items():
            self.c["pre_files"] += 1
            p = os.path.join(self.out, rel)
            if not os.path.isfile(p):
                self.bad(f"{rel} existed durably before the workload and is gone")
                continue
            with open(p, "rb") as f:
                data = f.read()
            if m["log"]:
                if hashlib.sha256(data[: m["size"]]).hexdigest() != m["sha256"]:
                    self.bad(f"{rel}: the {m['size']} bytes it durably held before are changed")
                self.protect(p, m["size"])
            elif hashlib.sha256(data).hexdigest() != m["sha256"]:
                self.bad(
                    f"{rel} existed durably before and was changed "
                    f"({len(data)} bytes, was {m['size']})"
                )

    def read_acks(self, writer: str) -> list:
        path = os.path.join(self.cdir, "acks." + writer)
        if not os.path.exists(path):
            return []
        with open(path, "rb") as f:
            text = f.read().decode()
        # Whole lines only: a line cut short by the kill was never an ack.
        acks = []
        for line in text.split("\n")[:-1]:
            n, s = line.split()
            acks.append((int(n), int(s)))
        return acks

    def check_acks(self) -> None:
        lost_any = False
        for name in sorted(os.listdir(self.cdir)):
            if not name.startswith("ingest."):
                continue
            writer = name[len("ingest.") :]
            with open(os.path.join(self.cdir, name)) as f:
                log = self.mapped(f.read().strip())
            acks = self.read_acks(writer)
            self.c["acked"] += len(acks)
            if not acks:
                continue
            for k, what in ((0, "input line"), (1, "seq")):
                col = [a[k] for a in acks]
                if col != sorted(set(col)):
                    self.bad(
                        f"writer {writer}: acks are not in strictly increasing {what} "
                        f"order: {col[:20]}"
                    )
            data = None
            if os.path.isfile(log):
                with open(log, "rb") as f:
                    data = f.read()
            recs = parse_log(data or b"")
            lost = []
            for n, s in acks:
                r = recs.get(s)
                got = r and {k: r.get(k) for k in ("role", "content", "source", "meta")}
                if got != message(writer, n):
                    lost.append((n, s, "absent" if r is None else "different"))
                else:
                    self.protect(log, r["_end"])
                    self.acked_seqs.setdefault(log, set()).add(s)
            self.c["lost"] += len(lost)
            if lost:
                lost_any = True
                gone = "" if data is not None else ", which is gone"
                self.loss(
                    f"writer {writer}: {len(lost)} of {len(acks)} acknowledged records "
                    f"lost from {self.rel(log)}{gone} (line, seq, how; first 10): "
                    f"{lost[:10]}"
                )
        self.c["cycles_with_loss"] = int(lost_any)

    def check_printed(self) -> set:
        logs, exports = [], []
        with open(os.environ["PL_STDOUT"], "rb") as f:
            text = f.read().decode(errors="replace")
        for line in text.split("\n")[:-1]:
            m = re.match(r"^(log|export):\s+(\S.*)$", line)
            if m:
                (logs if m.group(1) == "log" else exports).append(m.group(2))
            elif line.startswith(self.mnt + "/") and line.endswith(".jsonl"):
                logs.append(line)  # `convlog new` prints the bare path
        for p in logs:
            self.c["printed_logs"] += 1
            if not os.path.isfile(self.mapped(p)):
                self.c["missing_printed"] += 1
                self.loss(
                    f"the log path {p} was printed, and after the power cut it does not exist"
                )
        for p in exports:
            self.c["exports_done"] += 1
            if not os.path.isfile(self.mapped(p)):
                self.bad(
                    f"the export {p} was reported done, and after the power cut it does not exist"
                )
        return {self.mapped(p) for p in exports}

    def check_log(self, log: str) -> None:
        self.c["logs"] += 1
        rel = self.rel(log)
        with open(log, "rb") as f:
            data = f.read()
        rep = self.verify(log)
        if rep is None:
            return
        damage = rep["damage"]
        torn = [d for d in damage if d.get("kind") == "torn-tail"]
        if len(torn) != len(damage):
            self.check_hole(log, data, damage)
            return
        valid = torn[0]["offset"] if torn else len(data)
        recs = parse_log(data[:valid])
        msgs = [recs[s] for s in sorted(recs) if recs[s].get("kind") == "message"]
        ended = any(r.get("kind") == "end" for r in recs.values())
        state = "torn tail" if torn else "intact"
        if torn:
            self.c["torn_tails"] += 1
        if message_count(rep) != len(msgs):
            self.bad(
                f"{rel}: verify counts {message_count(rep)} messages, the checker reads {len(msgs)}"
            )
        # The export tolerates the tail.
        got = self.exported(log, state, bool(torn))
        if got is not None and got != [m["content"] for m in msgs]:
            self.bad(
                f"{rel} ({state}): the export does not hold exactly the log's "
                f"{len(msgs)} records (it has {len(got)})"
            )
        if not ended:
            self.check_next_append(log, data, valid, len(msgs), state)

    def exported(self, log: str, state: str, damaged: bool, *opts: str):
        """The contents `convlog export --no-merge` gives, or None if it failed.

        Exit 1 is accepted for a damaged log, with the whole document on
        stdout: it reports the damage it read past, as the exit-code rule has
        it (1 = a finding).
        """
        r = self.run("export", "--no-merge", *opts, log, "-o", "-")
        doc = None
        if r.returncode == 0 or (damaged and r.returncode == 1):
            try:
                doc = json.loads(r.stdout)["conversation"]
            except (ValueError, KeyError, TypeError):
                doc = None
        if doc is None:
            how = " ".join(("export", *opts))
            self.bad(
                f"{self.rel(log)} ({state}): {how} failed (exit {r.returncode}, "
                f"{len(r.stdout)} bytes out): {err_text(r)}"
            )
            return None
        return [m["content"] for m in doc]

    def check_hole(self, log: str, data: bytes, damage: list) -> None:
        """Mid-file damage: allowed only as a hole in the unsynced suffix."""
        rel = self.rel(log)
        floor = self.protected.get(log, 0)
        offs = [d.get("offset", -1) for d in damage]
        kinds = sorted({d.get("kind") for d in damage})
        if self.mode != "pages" or min(offs) < floor:
            self.bad(
                f"{rel}: verify finds {', '.join(kinds)} at bytes {offs}; only intact or a "
                f"torn tail may follow a power cut in {self.mode} mode (acknowledged or "
                f"earlier durable data ends at byte {floor})"
            )
            return
        # Pages written back out of order: valid lines after a lost page.
        self.c["holes"] += 1
        got = self.exported(log, "a hole", True, "--recovery", "point-in-time")
        if got is None:
            return
        recs = parse_log(data)
        for s in sorted(self.acked_seqs.get(log, ())):
            if recs[s]["content"] not in got:
                self.bad(f"{rel}: the point-in-time export lacks acknowledged seq {s}")

    def check_next_append(self, log: str, data: bytes, valid: int, msgs: int, state: str):
        """The next writer cuts the tail into LOG.broken and appends (on a copy)."""
        rel = self.rel(log)
        probe_dir = os.path.join(self.cdir, "probe", str(self.c["logs"]))
        os.makedirs(probe_dir)
        copy = os.path.join(probe_dir, os.path.basename(log))
        shutil.copyfile(log, copy)
        os.chmod(copy, 0o600)
        r = self.run("append", copy, "--role", "user", "--source", "powerloss-probe", PROBE_TEXT)
        if r.returncode != 0:
            self.bad(
                f"{rel} ({state}): the next append failed (exit {r.returncode}): {err_text(r)}"
            )
            return
        after = self.verify(copy)
        if after is None:
            return
        with open(copy, "rb") as f:
            now = f.read()
        if after["damage"] or message_count(after) != msgs + 1:
            self.bad(
                f"{rel} ({state}): after the next append it has damage {after['damage']} "
                f"and {message_count(after)} messages (want none and {msgs + 1})"
            )
        if not now.startswith(data[:valid]):
            self.bad(f"{rel}: the next append changed bytes before the tail it cut")
        tail = [x for x in parse_log(now[valid:]).values() if x.get("kind") == "message"]
        if [x.get("content") for x in tail] != [PROBE_TEXT]:
            self.bad(
                f"{rel}: after the cut point the log holds {len(tail)} records, not the "
                f"one appended"
            )
        if valid < len(data):
            self.c["repaired"] += 1
            broken = copy + ".broken"
            kept = None
            if os.path.exists(broken):
                with open(broken, "rb") as f:
                    kept = f.read()
            if kept != data[valid:]:
                held = "nothing" if kept is None else f"{len(kept)} bytes"
                self.bad(
                    f"{rel}: LOG.broken should hold the {len(data) - valid} cut bytes, holds {held}"
                )

    def check_export(self, export: str, reported: bool) -> None:
        self.c["exports_present"] += 1
        rel = self.rel(export)
        log = export[: -len(".json")] + ".jsonl"
        if not os.path.isfile(log):
            self.bad(f"{rel}: an export with no log beside it")
            return
        with open(log, "rb") as f:
            recs = parse_log(f.read())
        if not any(r.get("kind") == "end" for r in recs.values()):
            self.bad(f"{rel}: an export exists but its log has no end record")
        r = self.run("export", log, "-o", "-")
        with open(export, "rb") as f:
            have = f.read()
        if r.returncode != 0 or have != r.stdout:
            done = " (reported done)" if reported else ""
            self.bad(
                f"{rel}{done} is not whole: {len(have)} bytes, while its log renders to "
                f"{len(r.stdout)} bytes (exit {r.returncode})"
            )

    def main(self) -> int:
        self.check_pre_existing()
        self.check_acks()
        reported = self.check_printed()
        for d, dirs, names in os.walk(self.out):
            dirs.sort()
            for n in sorted(names):
                p = os.path.join(d, n)
                if n.startswith(".") or os.path.islink(p) or not os.path.isfile(p):
                    continue
                if n.endswith(".jsonl"):
                    self.check_log(p)
                elif n.endswith(".json"):
                    self.check_export(p, p in reported)
        self.c["violations"] = len(self.violations)
        print(json.dumps(self.c))
        return 1 if self.violations else 0


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["--manifest"]:
        print(json.dumps(manifest(args[1]), indent=1))
        return 0
    if not args:
        print(__doc__)
        return 2
    return Checker(args[0], "--expect-loss" in args).main()


if __name__ == "__main__":
    sys.exit(main())
