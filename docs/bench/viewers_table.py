#!/usr/bin/env python3
"""Markdown table of docs/bench/viewers.sh results (relay next to the writev floor).

    viewers_table.py OUT_DIR N...                     # print the table
    viewers_table.py --write-docs docs/benchmarks.md --command CMD OUT_DIR N...
        # replace the generated block of "## Relay: viewers" (between the markers) with it
"""
import json
import os
import platform
import sys
import time

BEGIN = "<!-- viewers.sh:begin -->"
END = "<!-- viewers.sh:end -->"
SECTION = "## Relay: viewers"


def load(out, label, n):
    path = os.path.join(out, f"{label}-{n}.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return f"{a / b:.2f}x"


def spread(r):
    """Sync spread over frames every normal viewer got; else (*) over all frames."""
    if r.get("sync_spread_ms_p99") is not None:
        return f"{fmt(r.get('sync_spread_ms_p50'))} / {fmt(r.get('sync_spread_ms_p99'))}"
    return f"{fmt(r.get('sync_spread_any_ms_p50'))} / {fmt(r.get('sync_spread_any_ms_p99'))} *"


def others(r):
    """CPU % (of one core) used by other processes during the window: machine minus server and tool."""
    busy, cores = r.get("machine_busy_pct"), r.get("cores")
    if busy is None or not cores:
        return "–"
    rest = busy * cores - (r.get("server_cpu_pct") or 0) - (r.get("generator_cpu_pct") or 0)
    return f"{max(rest, 0):.0f}"


def row(n, label, r, floor):
    if r is None:
        return f"| {n} | {label} | (no result) |" + " |" * 11
    is_relay = label.startswith("relay") and floor is not None
    cpu_ratio = ratio(r.get("server_cpu_us_per_viewer_frame"), floor.get("server_cpu_us_per_viewer_frame")) if is_relay else ""
    p99_ratio = ratio(r.get("latency_ms_p99"), floor.get("latency_ms_p99")) if is_relay else ""
    thin = "–"
    if r.get("thin_connected"):
        age = [r.get("thin_age_ms_p50"), r.get("thin_age_ms_p99"), r.get("thin_age_ms_max")]
        age = [None if a is None else a / 1000.0 for a in age]
        thin = f"{fmt(r.get('thin_fps_median'))} fps; {fmt(age[0], 2)} / {fmt(age[1], 2)} / {fmt(age[2], 2)} s"
    return (
        f"| {n} | {label} | {r.get('viewers_connected')}+{r.get('thin_connected')} "
        f"| {fmt(r.get('fps_min'))} / {fmt(r.get('fps_median'))} "
        f"| {fmt(r.get('latency_ms_p50'))} / {fmt(r.get('latency_ms_p99'))} | {p99_ratio} "
        f"| {spread(r)} "
        f"| {thin} "
        f"| {fmt(r.get('server_cpu_pct'))} | {fmt(r.get('server_cpu_us_per_viewer_frame'), 2)} | {cpu_ratio} "
        f"| {fmt(r.get('server_rss_mb'))} | {fmt(r.get('generator_cpu_pct'))} | {others(r)} |"
    )


def table(out, ns):
    lines = [
        "| viewers | server | connected (normal+thin) | fps min / median | latency p50 / p99 ms "
        "| p99 vs floor | sync spread p50 / p99 ms | thin: fps; age p50 / p99 / max "
        "| server CPU % | CPU µs per viewer-frame | vs floor | RSS MB | load tool CPU % | other processes CPU % |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for n in ns:
        floor = load(out, "floor", n)
        lines.append(row(n, "floor", floor, None))
        lines.append(row(n, "relay", load(out, "relay", n), floor))
        ws = load(out, "relay-ws", n)
        if ws is not None:
            lines.append(row(n, "relay-ws", ws, floor))
    notes = []
    for n in ns:
        mjpeg, ws = load(out, "relay", n), load(out, "relay-ws", n)
        if mjpeg and ws:
            notes.append(f"{n}: {ratio(ws.get('server_cpu_us_per_viewer_frame'), mjpeg.get('server_cpu_us_per_viewer_frame'))}")
    if notes:
        lines += ["", "WebSocket (`relay-ws`: the same relay process, `--ws` viewers of `/cams/cam/ws` right "
                  "after its MJPEG run) vs MJPEG CPU per viewer-frame: " + ", ".join(notes) + "."]
    return "\n".join(lines)


def measured_at(out, ns):
    """UTC span of the runs, from the JSON files' end times."""
    walls = [r["wall_unix_s"] for n in ns for label in ("floor", "relay", "relay-ws")
             if (r := load(out, label, n)) and r.get("wall_unix_s")]
    if not walls:
        return "unknown time"
    fmt_t = lambda t: time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))
    return f"{fmt_t(min(walls))}-{time.strftime('%H:%M', time.gmtime(max(walls)))} UTC"


def write_docs(doc, command, body, when):
    cores = os.cpu_count()
    block = "\n".join([
        BEGIN,
        f"Measured {when} on {platform.machine()}, "
        f"{cores} cores, Linux {platform.release()} (load tool on the same machine). Command:",
        "",
        "```sh",
        command,
        "```",
        "",
        body,
        "",
        "Sync spread: per frame id, latest minus earliest receive over the normal viewers, for frames "
        "every one of them got (* = no such frame: over all frames). Latency: receive wall time minus "
        "`X-Timestamp` (floor: when it wrote the frame; relay: the mock camera's capture time, so "
        "the camera hop is included). CPU: utime+stime of the server process over the window "
        "(10 ms ticks) per viewer-frame delivered; at 1 and 10 viewers fixed costs dominate. CPU % "
        "columns are % of one core (200 % = both cores); \"other processes\" is the rest of the "
        "machine's busy time in the window (other engineers' builds and tests).",
        END,
    ])
    text = open(doc).read() if os.path.exists(doc) else "# Benchmarks\n\nMachine: 2 cores, 24 GiB.\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    elif SECTION in text:
        head, rest = text.split(SECTION, 1)
        first_line, _, after = rest.partition("\n")
        text = head + SECTION + first_line + "\n\n" + block + "\n" + after
    else:
        text = text.rstrip("\n") + "\n\n" + SECTION + "\n\n" + block + "\n"
    with open(doc, "w") as f:
        f.write(text)


def main(argv):
    doc = command = None
    if argv and argv[0] == "--write-docs":
        doc, argv = argv[1], argv[2:]
    if argv and argv[0] == "--command":
        command, argv = argv[1], argv[2:]
    out, ns = argv[0], argv[1:]
    body = table(out, ns)
    if doc:
        write_docs(doc, command or "docs/bench/viewers.sh", body, measured_at(out, ns))
    else:
        print(body)


if __name__ == "__main__":
    main(sys.argv[1:])
