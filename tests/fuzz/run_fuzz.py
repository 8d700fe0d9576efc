"""The long decoder fuzz run (`make fuzz`): N seeded mutated payloads over W processes.

A crash is any exception from `wire.decode_message` other than `Rejected`.
Prints the count, rate, rejection reasons, crash classes (with the seed and
case index that reproduce one) and p50/p99/max decode time; exits 1 on any
crash. Decode time is measured around decode_message only, not generation.

    python -m tests.fuzz.run_fuzz --count 1000000 --workers 2 --seed 1
    python -m tests.fuzz.run_fuzz --seconds 300      # as many as fit in 5 minutes

`--pipeline-seconds N` then runs the whole-pipeline fuzz (tests/fuzz/pipeline.py) for N
seconds on a real collector app and a Mosquitto of its own, printing its figures, any
view failure and any log record above WARNING; exits 1 on any of them too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pantau import wire
from tests.fuzz import pipeline
from tests.fuzz.mutator import mutated_message
from tests.support.mosquitto import MosquittoBroker


@dataclass
class WorkerResult:
    cases: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    first_crash: dict[str, tuple[int, int]] = field(default_factory=dict)  # class -> (seed, i)
    decode_ns: list[int] = field(default_factory=list)


def fuzz_worker(args: tuple[int, int, float]) -> WorkerResult:
    seed, count, seconds = args
    rng, result = random.Random(seed), WorkerResult()
    stop_at = time.monotonic() + seconds
    clock = time.perf_counter_ns
    for i in range(count):
        if i % 1000 == 0 and time.monotonic() > stop_at:
            break
        topic, payload = mutated_message(rng)
        start = clock()
        try:
            wire.decode_message(topic, payload)
            label = "ok"
        except wire.Rejected as exc:
            label = exc.reason
        except Exception as exc:  # the thing we hunt: anything but Rejected
            label = "crash"
            key = f"{type(exc).__name__}: {str(exc)[:100]}"
            result.crashes[key] += 1
            result.first_crash.setdefault(key, (seed, i))
        result.decode_ns.append(clock() - start)
        result.outcomes[label] += 1
        result.cases += 1
    return result


def percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000.0


def report(results: list[WorkerResult], elapsed: float) -> int:
    cases = sum(r.cases for r in results)
    outcomes = sum((r.outcomes for r in results), Counter())
    crashes = sum((r.crashes for r in results), Counter())
    timings = sorted(t for r in results for t in r.decode_ns)
    print(f"cases: {cases} in {elapsed:.1f} s ({cases / elapsed:,.0f}/s incl. generation)")
    print("outcomes:", dict(sorted(outcomes.items())))
    print(f"decode time: p50 {percentile(timings, 0.50):.1f} us, "
          f"p99 {percentile(timings, 0.99):.1f} us, max {timings[-1] / 1000:.1f} us")
    print(f"crashes: {sum(crashes.values())}")
    for key, n in crashes.most_common():
        seed, i = next(r.first_crash[key] for r in results if key in r.first_crash)
        print(f"  {n} x {key}  (first: seed {seed}, case {i})")
    return 1 if crashes else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=float("inf"), help="time budget")
    parser.add_argument("--pipeline-seconds", type=float, default=0.0,
                        help="then the whole-pipeline fuzz for this long (0: not at all)")
    args = parser.parse_args(argv)
    per_worker = -(-args.count // args.workers)
    jobs = [(args.seed * 1000 + w, per_worker, args.seconds) for w in range(args.workers)]
    start = time.monotonic()
    with multiprocessing.Pool(args.workers) as pool:
        results = pool.map(fuzz_worker, jobs)
    status = report(results, time.monotonic() - start)
    if args.pipeline_seconds > 0:
        status |= asyncio.run(pipeline_run(args.seed, args.pipeline_seconds))
    return status


async def pipeline_run(seed: int, seconds: float) -> int:
    high = pipeline.HighLogs()
    logging.getLogger().addHandler(high)
    with tempfile.TemporaryDirectory(prefix="pantau-pipeline-fuzz-") as tmp:
        broker = MosquittoBroker(Path(tmp) / "broker").start()
        try:
            async with pipeline.collector(Path(tmp) / "data", broker.url) as client:
                result = await pipeline.run(client, seed, count=10**12, seconds=seconds)
        finally:
            broker.stop()
    print(pipeline.summary(result, high.records))
    for failure in result.failures[:20]:
        print("  " + failure)
    for record in high.records[:20]:
        print(f"  {record.levelname} {record.name}: {record.getMessage()[:300]}")
    return 1 if result.failures or high.records else 0


if __name__ == "__main__":
    sys.exit(main())
