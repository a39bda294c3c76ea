"""The benchmark's report: one line per run, the results table (bench/README.md), the chart, the machine."""

import os
import platform

import psutil

TARGETS = (("taskapp", "taskapp"), ("bare", "bare Flask (floor)"), ("plan", "FastAPI + SQLModel (plan)"),
           ("pgbench", "pgbench (database)"))


def machine() -> dict:
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30),
            "system": f"{platform.system()} {platform.release()}"}


def line(row: dict) -> str:
    t, b, f, p = row["taskapp"], row["bare"], row["plan"], row["pgbench"]
    return (f"{row['scenario']:<19} c={row['connections']:<3} "
            f"taskapp {t['throughput']:6.0f}/s p99 {t['p99_ms']:5.1f} ms"
            f" | floor {b['throughput']:6.0f}/s p99 {b['p99_ms']:5.1f} ms"
            f" | plan {f['throughput']:6.0f}/s p99 {f['p99_ms']:5.1f} ms | pgbench {p['throughput']:6.0f}/s"
            f" | ÷ floor {t['throughput'] / b['throughput']:.2f}, ÷ plan {t['throughput'] / f['throughput']:.2f}"
            f" | errors {t['errors']}/{b['errors']}/{f['errors']}/{p['errors']}")


def short_line(row: dict) -> str:
    t = row["taskapp"]
    return (f"{row['scenario']:<17} c={row['connections']:<3} taskapp {t['throughput']:7.0f}/s "
            f"p50 {t['p50_ms']:6.1f} p99 {t['p99_ms']:6.1f} ms errors {t['errors']}")


def table(document: dict) -> str:
    rows = [
        "| scenario | conns | taskapp req/s | floor req/s | plan req/s | pgbench tx/s | taskapp ÷ floor "
        "| taskapp ÷ plan | taskapp p50 / p99 ms | floor p99 ms | plan p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in document["results"]:
        t, b, f, p = row["taskapp"], row["bare"], row["plan"], row["pgbench"]
        rows.append(
            f"| {row['scenario']} | {row['connections']} | {t['throughput']:.0f} | {b['throughput']:.0f} "
            f"| {f['throughput']:.0f} | {p['throughput']:.0f} | {t['throughput'] / b['throughput']:.2f} "
            f"| {t['throughput'] / f['throughput']:.2f} "
            f"| {t['p50_ms']:.1f} / {t['p99_ms']:.1f} | {b['p99_ms']:.1f} | {f['p99_ms']:.1f} "
            f"| {t['errors'] + b['errors'] + f['errors'] + p['errors']} |"
        )
    soak = document.get("soak") or {}
    if soak:
        rows.append("")
        rows.append(
            f"Soak: {soak['seconds']} s mixed at 16 connections, {soak['run']['throughput']:.0f} req/s, "
            f"{soak['run']['errors']} errors; serving processes' RSS {soak['rss_start_mib']:.0f} MiB at the start, "
            f"{soak['rss_end_mib']:.0f} MiB at the end."
        )
    return "\n".join(rows)


def chart(document: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = max(row["connections"] for row in document["results"])
    rows = [row for row in document["results"] if row["connections"] == top]
    names = [row["scenario"] for row in rows]
    figure, (throughput, p99) = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    width = 0.2
    for offset, (key, label) in enumerate(TARGETS):
        positions = [index + (offset - 1.5) * width for index in range(len(rows))]
        throughput.bar(positions, [row[key]["throughput"] for row in rows], width, label=label)
        p99.bar(positions, [row[key]["p99_ms"] for row in rows], width, label=label)
    throughput.set_ylabel("requests (transactions) / s")
    throughput.set_title(f"taskapp vs references, {top} connections — {document['when']}, "
                         f"{document['machine']['cores']} cores")
    throughput.legend()
    p99.set_ylabel("p99 latency, ms")
    p99.set_xticks(range(len(rows)), names, rotation=20)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
