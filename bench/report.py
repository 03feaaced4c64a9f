#!/usr/bin/python3
"""Prints a bench/results/<date>.json file as the Markdown table of bench/README.md.

    bench/report.py bench/results/2026-11-25T120000Z.json

One row per workload: the rate (ops/s, or MB/s for data), latency percentiles, errors, the
issue-3 target where one applies and whether it is met, then where the CPU went (cores of
the 2-core box: api-gateway, metadata-svc, PostgreSQL, the generator, anything else) and the
three Gaze processes' peak RSS summed. Then the comparisons the issues ask for: show with
Keystone next to static tokens (issue 5) and each import next to `qemu-img convert` alone on the
same file (issue 6).
"""
import json
import sys

# Issue 3's targets for Gaze on the dev stack: (minimum rate, maximum p99 in ms or None).
METADATA_TARGETS = {"show": (13000, 10), "list": (5000, 20), "create": (4000, None),
                    "patch": (3500, None), "delete": (4000, None)}
UPLOAD_MB_S, DOWNLOAD_MB_S = 800, 3000
RSS_UNDER_LOAD_MB, RSS_IDLE_EACH_MB = 60, 30
KEYSTONE_WITHIN = 0.10  # issue 5: show with Keystone within 10% of static tokens


def target(w):
    """(text, met) for workload line w, or ("", None) when no target applies to it."""
    name = w["workload"]
    if name in ("upload", "download"):
        goal = UPLOAD_MB_S if name == "upload" else DOWNLOAD_MB_S
        return f"≥ {goal} MB/s", w.get("MB_per_s", 0) >= goal
    if name not in METADATA_TARGETS:
        return "", None
    # show: at concurrency 32-64; list: over 100k images; create: the c=64 line.
    if name == "show" and not 32 <= w.get("concurrency", 0) <= 64:
        return "", None
    if name == "list" and w.get("seeded", 0) < 100000:
        return "", None
    if name == "create" and w.get("concurrency", 0) < 64:
        return "", None
    rate, p99 = METADATA_TARGETS[name]
    met = w.get("ops_per_s", 0) >= rate
    text = f"≥ {rate}/s"
    if p99 is not None:
        met = met and w.get("latency_ms", {}).get("p99", 1e9) < p99
        text += f", p99 < {p99} ms"
    return text, met


def cores(w, name):
    return w.get("servers", {}).get(name, {}).get("cores", 0)


def label(w):
    return w["spec"] + (" [keystone]" if w.get("auth") == "keystone" else "")


def import_rate(w):
    """The rate cell of an import line: stage MB/s, import and end-to-end seconds."""
    text = (f"stage {w.get('stage_MB_per_s', 0):.0f} MB/s, import {w.get('import_s', {}).get('mean', 0):.2f} s, "
            f"end to end {w.get('end_to_end_s', {}).get('mean', 0):.2f} s")
    if "qemu_img_convert_s" in w:
        text += f" (qemu-img alone {w['qemu_img_convert_s']:.2f} s)"
    return text + f", worker {cores(w, 'task-worker'):.2f} cores"


def row(w):
    name = w["workload"]
    spec = label(w)
    if "error" in w:
        return f"| {spec} | error: {w['error']} |" + " |" * 9
    if name == "idle":
        rss = ", ".join(f"{k} {v['rss_mb']} ({v.get('anon_peak_mb', '?')} anon)"
                        for k, v in w.get("servers", {}).items()
                        if isinstance(v, dict) and "rss_mb" in v)
        ok = all(v.get("rss_mb", 0) <= RSS_IDLE_EACH_MB for v in w.get("servers", {}).values()
                 if isinstance(v, dict))
        return (f"| {spec} | idle RSS MB: {rss} | | | | ≤ {RSS_IDLE_EACH_MB} MB each | "
                f"{'yes' if ok else 'NO'} | | | | |")
    lat = w.get("latency_ms", {})
    if name == "import":
        rate = import_rate(w)
    elif "MB_per_s" in w:
        rate = f"{w['MB_per_s']:.0f} MB/s"
    else:
        rate = f"{w.get('ops_per_s', 0):.0f}/s"
    errors = sum(w.get("errors", {}).values())
    text, met = target(w)
    verdict = "" if met is None else ("yes" if met else "NO")
    client = w.get("client", {}).get("cores", 0)
    known = client + sum(v.get("cores", 0) for v in w.get("servers", {}).values()
                         if isinstance(v, dict))
    other = max(0.0, w.get("machine_busy_cores", 0) - known)
    cpu = (f"{cores(w, 'api-gateway'):.2f} / {cores(w, 'metadata-svc'):.2f} / "
           f"{cores(w, 'postgres'):.2f} / {client:.2f} / {other:.2f}")
    servers = w.get("servers", {})
    rss = (f"{servers['gaze_rss_sum_peak_mb']} ({servers.get('gaze_anon_sum_peak_mb', '?')} anon)"
           if "gaze_rss_sum_peak_mb" in servers else "")
    return (f"| {spec} | {rate} | {lat.get('p50', 0):.2f} | {lat.get('p99', 0):.2f} | "
            f"{lat.get('max', 0):.1f} | {text} | {verdict} | {errors} | {cpu} | {rss} |")


def comparisons(workloads):
    static = {w["spec"]: w for w in workloads
              if w.get("auth", "static") == "static" and "error" not in w}
    lines = []
    for w in workloads:
        if w.get("auth") != "keystone" or w["workload"] != "show" or "error" in w:
            continue
        base = static.get(w["spec"])
        if base is None or not base.get("ops_per_s"):
            lines.append(f"* {w['spec']}: Keystone {w.get('ops_per_s', 0):.0f}/s (no static-token line)")
            continue
        change = w.get("ops_per_s", 0) / base["ops_per_s"] - 1
        met = "met" if change >= -KEYSTONE_WITHIN else "NOT met"
        lines.append(f"* {w['spec']}: Keystone {w.get('ops_per_s', 0):.0f}/s (p99 "
                     f"{w.get('latency_ms', {}).get('p99', 0):.2f} ms) vs static tokens "
                     f"{base['ops_per_s']:.0f}/s (p99 {base.get('latency_ms', {}).get('p99', 0):.2f} ms): "
                     f"{change:+.1%} (within {KEYSTONE_WITHIN:.0%}: {met})")
    for w in workloads:
        if w["workload"] != "import" or "error" in w or "import_s" not in w:
            continue
        size = w.get("virtual_size_bytes", w.get("staged_bytes", 0)) / 2**20
        what = f"{size:.0f} MiB {w.get('format')}"
        if w.get("format") == "qcow2":
            what += f" → {w.get('imported_disk_format', '?')}"
        text = (f"* import {what}: {w['import_s']['mean']:.2f} s from 202 to active "
                f"(mean of {w.get('imports', 0)}), {w['end_to_end_s']['mean']:.2f} s end to end, "
                f"staged at {w.get('stage_MB_per_s', 0):.0f} MB/s")
        if "qemu_img_convert_s" in w:
            text += f"; `qemu-img convert` alone on the same file: {w['qemu_img_convert_s']:.2f} s"
        lines.append(text)
    if lines:
        print("\n" + "\n".join(lines))


def main():
    result = json.load(open(sys.argv[1]))
    m = result.get("machine", {})
    print(f"{result['date']} ({result['mode']}), commit {result['commit'][:10]}"
          f"{' + local changes' if result.get('dirty') else ''}"
          f"{', auth ' + result['auth'] if result.get('auth') else ''}, {m.get('cpus')} × "
          f"{m.get('cpu_model')}, {m.get('mem_gb')} GB\n")
    print("| workload | rate | p50 ms | p99 ms | max ms | target | met | errors | "
          "CPU cores: gateway / metadata / postgres / generator / other | Gaze RSS peak MB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    peak = 0
    for w in result["workloads"]:
        print(row(w))
        if w["workload"] != "idle":
            peak = max(peak, w.get("servers", {}).get("gaze_rss_sum_peak_mb", 0))
    print(f"\nPeak RSS of the three Gaze processes under load: {peak} MB "
          f"(target ≤ {RSS_UNDER_LOAD_MB} MB: {'met' if peak <= RSS_UNDER_LOAD_MB else 'NOT met'}).")
    comparisons(result["workloads"])
    micro = result.get("micro", {})
    if micro:
        print("\n| micro-benchmark | time | throughput |\n|---|---|---|")
        for name, b in micro.items():
            if "skipped" in b:
                print(f"| {name} | skipped: {b['skipped']} | |")
                continue
            ns = b["real_ns"]
            time = f"{ns / 1e6:.2f} ms" if ns >= 1e6 else (f"{ns / 1e3:.2f} µs" if ns >= 1e3
                                                           else f"{ns:.0f} ns")
            tput = ""
            if "bytes_per_second" in b:
                tput = f"{b['bytes_per_second'] / 1e6:.0f} MB/s"
            elif "items_per_second" in b:
                tput = f"{b['items_per_second'] / 1e3:.0f} k items/s"
            print(f"| {name} | {time} | {tput} |")


if __name__ == "__main__":
    main()
