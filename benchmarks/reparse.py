"""Reparse benchmark: the real ``jinshan reparse`` over an archive filled from a generated replica.

The archive is filled once by the real ``jinshan backfill`` against the replica (``crawl.py``'s
helper, SQLite, WARC on); the replica is gone before any reparse starts, so nothing can be fetched.
Each reparse then runs on a fresh copy of that database, in two cases:

- "nothing changed": today's profile over pages it already extracted (every article re-read and
  compared, nothing written): the cost of re-checking an archive;
- "profile fix": the profile without its lead tags (``金山网讯`` …), as a fix of a live template
  would differ from what the archive was read with: every article with a lead gets a new version.

For each: articles re-read, seconds, articles/s, cores used (CPU time of the reparse process and its
workers over the wall time), CPU time per article (what the load of other processes moves least),
peak RSS per process, with ``--workers 1`` as the single-process peer
(and, with ``--baseline DIR``, the reparse of another source tree: for the table of docs/benchmarks.md, this tree
with ``service/crawl/reparse.py``, ``service/store/reparse.py`` and ``service/fetch/archive.py`` of
commit df07837 put back, so both sides run the same extractor).
The machine's load average is printed beside each row: figures move with it.

    .venv/bin/python benchmarks/reparse.py [--articles 3000] [--workers 2,1] [--baseline /path/to/checkout]
        [--cases 'nothing changed,profile fix'] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.crawl import backfill, children, peak_rss_mb  # noqa: E402
from service.settings import CONFIG_DIR  # noqa: E402


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def without_lead_tags(tmp: Path) -> Path:
    text = (CONFIG_DIR / "sites" / "jsw.toml").read_text(encoding="utf-8")
    fixed = text.replace('lead_tags = ["金山网讯", "金山网消息", "本报讯"]', "lead_tags = []")
    if fixed == text:
        raise SystemExit("the profile's lead_tags line moved: update benchmarks/reparse.py")
    path = tmp / "no-lead.toml"
    path.write_text(fixed, encoding="utf-8")
    return path


def reparse(
    tmp: Path, config: Path, db: Path, *, workers: int | None, code: Path, profile: Path | None
) -> dict[str, float]:
    """One ``jinshan reparse`` on a fresh copy of ``db``, with the code of checkout ``code``."""
    shutil.copyfile(db, tmp / "run.db")
    for suffix in ("-wal", "-shm"):
        (tmp / f"run.db{suffix}").unlink(missing_ok=True)
    text = config.read_text(encoding="utf-8").replace(str(db), str(tmp / "run.db"))
    if profile is not None:
        text = text.replace("[site]\n", f'[site]\nprofile = "{profile}"\n', 1)
    run_config = tmp / "run.toml"
    run_config.write_text(text, encoding="utf-8")
    args = [sys.executable, "-m", "service", "reparse", "--config", str(run_config)]
    if workers is not None:
        args += ["--workers", str(workers)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = load()
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(code)})  # fmt: skip
    peaks: dict[int, float] = {}
    while proc.poll() is None:
        for pid in (proc.pid, *children(proc.pid)):
            peaks[pid] = max(peaks.get(pid, 0.0), peak_rss_mb(pid))
        time.sleep(0.1)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers were waited for by the reparse
    if proc.returncode != 0:
        raise SystemExit(f"reparse failed ({proc.returncode}): {err[-2000:]}")
    counts = json.loads(out.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    done = sum(v for k, v in counts.items() if k != "status")
    return {"articles": done, "changed": counts.get("changed", 0), "seconds": elapsed, "per_s": done / elapsed,
            "cores": cpu / elapsed, "cpu_ms": 1000 * cpu / max(done, 1), "peak_mb": max(peaks.values(), default=0.0), "load": load_before}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--workers", default="2,1", help="reparse processes to compare")
    parser.add_argument("--baseline", type=Path, help="another checkout whose reparse is measured too")
    parser.add_argument("--cases", default="nothing changed,profile fix")
    parser.add_argument("--keep", type=Path, help="fill the archive here once and reuse it in later runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jinshan-bench-") as tmpdir:
        tmp = args.keep or Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        config, db = tmp / f"bf{args.articles}.toml", tmp / f"bf{args.articles}w2.db"
        if not db.exists():
            print(f"Filling the archive: backfill of {args.articles:,} replica articles …", file=sys.stderr)
            backfill(args.articles, tmp, workers=2)
        no_lead = without_lead_tags(tmp)
        runs: list[tuple[str, str, Path, int | None]] = [
            (f"{w} worker{'s' if w > 1 else ''}", "this", ROOT, w) for w in (int(x) for x in args.workers.split(","))
        ]  # fmt: skip
        if args.baseline:
            runs.append(("baseline", str(args.baseline), args.baseline, None))
        print(f"\nReparse of {args.articles:,} archived replica articles (SQLite; {os.cpu_count()} cores)\n")
        print("| case | code | workers | articles | new versions | seconds | articles/s | cores used | CPU ms per article | peak RSS MB per process | load average at start |")  # fmt: skip
        print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        cases = {"nothing changed": None, "profile fix": no_lead}
        for case in args.cases.split(","):
            profile = cases[case]
            for label, code_name, code, workers in runs:
                r = reparse(tmp, config, db, workers=workers, code=code, profile=profile)
                print(f"| {case} | {code_name} | {label} | {r['articles']:,.0f} | {r['changed']:,.0f} | {r['seconds']:.1f} | "
                      f"{r['per_s']:.0f} | {r['cores']:.2f} | {r['cpu_ms']:.2f} | {r['peak_mb']:.0f} | {r['load']} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
