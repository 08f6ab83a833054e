"""The benchmark's table: what bench/harness.py measured, as Markdown."""

from __future__ import annotations

import math
import statistics
from typing import Any

import flowbench
from harness import (
    LOAD_CORE,
    SERVER_CORE,
    TARGET_CONSENTS,
    TARGET_FIRST_200_SECONDS,
    TARGET_INSTITUTIONS_RATIO,
    TARGET_RSS_BYTES,
    TARGET_SAME_BODY_RATIO,
    MemoryResult,
    Options,
)


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


def times(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "–"
    return f"{value / base:.2f}×"


def mib(kib: int | None) -> str:
    return "–" if kib is None else f"{kib / 1024:.1f} MiB"


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def render(info: dict[str, str], options: Options, outcome: dict[str, Any], wall: float) -> str:
    lines = [
        f"# klavi-mock benchmark{' (quick smoke run: tiny numbers, not for quoting)' if options.quick else ''}",
        "",
    ]
    lines += ["| machine | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in info.items()]
    lines += [
        "",
        f"Run: `python bench/run.py --duration {options.duration} --connections {options.connections} "
        f"--consents {options.consents}{' --quick' if options.quick else ''}` — took {wall:.0f} s.",
        "",
    ]

    # 1-2. wrk
    lines += ["## 1–2. Throughput and latency, mock and bare (wrk, one server core)", ""]
    http = outcome.get("http")
    if isinstance(http, str):
        lines += [f"**skipped / failed:** {http}", ""]
    else:
        bare = http["bare"]
        memory = outcome.get("memory")
        rows = [
            ("bare", http["bare"]),
            ("body", http["body"]),
            ("institutions", http["institutions"]),
            ("auth", http["auth"]),
        ]
        if isinstance(memory, MemoryResult) and memory.load is not None:
            rows.append(("consents", memory.load))
        d = max(1, options.duration // 2)
        lines += [
            f"`wrk -t1 -c{options.connections} -d{d}s --latency` on core {LOAD_CORE}, after a "
            f"{options.warmup} s warm-up; the servers on core {SERVER_CORE}, one loaded at a time. "
            "For req/s, × bare is the share of the bare endpoint's throughput (higher is better); "
            "for latency, how many times the bare latency (lower is better). The machine's speed drifts "
            f"within a run, so bare and `GET /links/institutions` are measured in {len(http['pairs'])} "
            "alternating rounds, each mock figure against the bare one just before it; the rows show the "
            "round with the median ratio. `POST /auth` is one run, against that round's bare figure.",
            "",
            "| endpoint | req/s | × bare | p50 | × bare | p99 | × bare | requests | non-2xx / socket errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for key, r in rows:
            name = r.label + (" ¹" if key == "consents" else "")
            errors = f"{r.non_2xx} / {r.socket_errors or '0'}"
            lines.append(
                f"| {name} | {r.per_second:,.0f} | {times(r.per_second, bare.per_second)} | {ms(r.p50)} | "
                f"{times(r.p50, bare.p50)} | {ms(r.p99)} | {times(r.p99, bare.p99)} | {r.requests:,} | {errors} |"
            )
        ratios = http["ratios"]
        lines += [
            "",
            "`GET /links/institutions` ÷ bare, round by round: "
            + ", ".join(f"{r:.2f}×" for r in ratios)
            + f" (median {statistics.median(ratios):.2f}×, from {min(ratios):.2f}× to {max(ratios):.2f}×).",
            "",
            "`GET /links/institutions` ÷ bare `GET /body` (the same bytes), round by round: "
            + ", ".join(f"{r:.2f}×" for r in http["body_ratios"])
            + f" (median {statistics.median(http['body_ratios']):.2f}×, from {min(http['body_ratios']):.2f}× "
            f"to {max(http['body_ratios']):.2f}×).",
        ]
        if any(key == "consents" for key, _ in rows):
            lines += [
                "",
                f"¹ from the memory phase: {memory.how}; the store grows from 0 to "
                f"{memory.created:,} consents during it, so it is not a steady state.",
            ]
        lines.append("")

    # 3. flows
    lines += ["## 3. The API-only flow, concurrent clients", ""]
    flows = outcome.get("flows")
    if isinstance(flows, str):
        lines += [f"**failed:** {flows}", ""]
    else:
        mock, bare = flows["mock"], flows["bare"]
        lines += [
            f"{options.clients} asyncio httpx clients (one `AsyncClient` each, keep-alive), each running flows back "
            f"to back, bounded by {options.max_flows:,} flows and {options.flow_duration} s (bare: "
            f"{max(1, options.flow_duration // 2)} s). A mock flow is 6 requests — auth, link, institutions, "
            "consent, bank approve (`&decision=approve`, redirect not followed), "
            "`POST /personal/institution-data` (pf_checking_account at 341) — and ends when that request's report "
            "webhook reaches the local receiver (tenant webhooks set with `PUT /__mock/tenants/sandbox-app/webhooks`). "
            f"**Baseline, measured:** the same clients doing {flowbench.REQUESTS_PER_FLOW} sequential "
            '`GET /json` on the bare app per "flow" (6 × one bare request, with the same client cost; it has no '
            "webhook leg).",
            "",
            "| | flows done | failed | flows/s | × bare | p50 | × bare | p99 | × bare |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        state = flows.get("state")
        for r in (bare, mock, state) if state else (bare, mock):
            lines.append(
                f"| {r.label} | {r.completed:,} | {r.failed} | {r.per_second:,.1f} | "
                f"{times(r.per_second, bare.per_second)} | {ms(pct(r.durations, 50))} | "
                f"{times(pct(r.durations, 50), pct(bare.durations, 50))} | {ms(pct(r.durations, 99))} | "
                f"{times(pct(r.durations, 99), pct(bare.durations, 99))} |"
            )
        lines.append("")
        if mock.steps and any(mock.steps.values()):
            lines += [
                "Mock flow, per step (p50 / p99): "
                + ", ".join(
                    f"{step} {ms(pct(values, 50))} / {ms(pct(values, 99))}"
                    for step, values in mock.steps.items()
                    if values
                )
                + "."
            ]
            quarter = max(1, len(mock.durations) // 4)
            if len(mock.durations) >= 8:
                lines += [
                    f"Drift: p50 of the first quarter of flows {ms(pct(mock.durations[:quarter], 50))}, "
                    f"of the last quarter {ms(pct(mock.durations[-quarter:], 50))}."
                ]
        if mock.failures:
            lines += ["Failures: " + "; ".join(f"{reason} ×{n}" for reason, n in mock.failures.items()) + "."]
        if mock.received:
            lines += [
                "Webhooks received: " + ", ".join(f"{path} {n:,}" for path, n in sorted(mock.received.items())) + "."
            ]
        if mock.webhooks:
            sent = sum(w["sent"] for w in mock.webhooks.values())
            acked = sum(w["acknowledged"] for w in mock.webhooks.values())
            pending = {name: w["pending"] for name, w in mock.webhooks.items() if w["pending"]}
            lines += [
                f"The mock's outbox at the end: {sent:,} deliveries created, {acked:,} acknowledged, "
                f"{sum(pending.values()):,} still pending"
                + (f" ({', '.join(f'{k} {v:,}' for k, v in sorted(pending.items()))})" if pending else "")
                + "."
            ]
        if state:
            lines += [
                f"With `--state-file` (SQLite, every answer written before it goes out): "
                f"{times(state.per_second, mock.per_second)} the in-memory mock's flows/s, p50 "
                f"{times(pct(state.durations, 50), pct(mock.durations, 50))} its p50."
            ]
        for r in (mock, state, bare) if state else (mock, bare):
            if r.cpu:
                lines += [
                    f"CPU during the {r.label}: server {r.cpu.get('server', 0):.0%} of its core, "
                    f"driver (clients + receiver) {r.cpu.get('driver', 0):.0%} of its core."
                ]
        lines.append("")

    # 4. start-up
    lines += ["## 4. Start-up: process spawn to the first 200", ""]
    startup = outcome.get("startup")
    if isinstance(startup, str):
        lines += [f"**failed:** {startup}", ""]
    else:
        lines += [
            f"`python -m klavi_mock serve` polled on `GET /__mock/clock`, `bench/bare_app.py` on `GET /json`, "
            f"every 5 ms; {options.starts} starts each, alternating.",
            "",
            "| server | median | min | max | × bare (median) |",
            "|---|---:|---:|---:|---:|",
        ]
        bare_median = statistics.median(startup["bare"]) if startup["bare"] else None
        names = {"bare": "bare", "mock": "mock", "state": f"mock on a state file of {options.consents:,} consents"}
        for kind, name in names.items():
            values = startup[kind]
            if values:
                lines.append(
                    f"| {name} | {ms(statistics.median(values))} | {ms(min(values))} | {ms(max(values))} | "
                    f"{times(statistics.median(values), bare_median)} |"
                )
        lines += [
            "",
            "The state file (one link, pending consents) is written beforehand through the mock's own "
            "store; every consent is read back and its 60-minute window rescheduled before the first 200.",
        ]
        lines.append("")

    # 5. memory
    lines += ["## 5. Resident memory (VmRSS)", ""]
    memory = outcome.get("memory")
    if isinstance(memory, str):
        lines += [f"**failed:** {memory}", ""]
    else:
        per = None
        if memory.created and memory.mock_after_kib and memory.mock_idle_kib:
            per = (memory.mock_after_kib - memory.mock_idle_kib) * 1024 / memory.created
        lines += [
            f"Consents created over HTTP through one link ({memory.how}) in {memory.seconds:.1f} s; "
            f"RSS read from /proc/<pid>/status after a short settle.",
            "",
            "| process | RSS | × bare idle |",
            "|---|---:|---:|",
            f"| bare app, idle | {mib(memory.bare_idle_kib)} | 1.00× |",
            f"| mock, idle (after start-up) | {mib(memory.mock_idle_kib)} | {times(memory.mock_idle_kib, memory.bare_idle_kib)} |",
            f"| mock after {memory.created:,} consents | {mib(memory.mock_after_kib)} | {times(memory.mock_after_kib, memory.bare_idle_kib)} |",
            f"| mock peak (VmHWM) | {mib(memory.mock_peak_kib)} | {times(memory.mock_peak_kib, memory.bare_idle_kib)} |",
            "",
        ]
        if per is not None:
            lines += [f"Growth: {per:,.0f} bytes per consent."]
        if memory.refused:
            lines += [f"Consent requests not answered 200: {memory.refused}."]
        lines.append("")

    lines += [
        "## Targets (from the issue; reported, never asserted)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ] + targets(outcome)
    return "\n".join(lines) + "\n"


def targets(outcome: dict[str, Any]) -> list[str]:
    rows = []
    http = outcome.get("http")
    if isinstance(http, dict):
        ratio = statistics.median(http["ratios"])
        rows.append(
            f"| `GET /links/institutions` ≥ {TARGET_INSTITUTIONS_RATIO:.0%} of the bare endpoint's req/s | "
            f"{ratio:.0%}, median of {len(http['ratios'])} rounds ({min(http['ratios']):.0%} to "
            f"{max(http['ratios']):.0%}; median round {http['institutions'].per_second:,.0f} vs "
            f"{http['bare'].per_second:,.0f} req/s) | "
            f"{'yes' if ratio >= TARGET_INSTITUTIONS_RATIO else '**no**'} |"
        )
        same = statistics.median(http["body_ratios"])
        rows.append(
            f"| `GET /links/institutions` ≥ {TARGET_SAME_BODY_RATIO:.0%} of the bare app sending the same bytes | "
            f"{same:.0%}, median of {len(http['body_ratios'])} rounds ({min(http['body_ratios']):.0%} to "
            f"{max(http['body_ratios']):.0%}) | {'yes' if same >= TARGET_SAME_BODY_RATIO else '**no**'} |"
        )
    else:
        rows.append("| `GET /links/institutions` ≥ 50% of bare req/s | not measured (no wrk) | – |")
    startup = outcome.get("startup")
    if isinstance(startup, dict) and startup["mock"]:
        median = statistics.median(startup["mock"])
        rows.append(
            f"| first 200 in under {TARGET_FIRST_200_SECONDS:g} s | median {ms(median)} (max {ms(max(startup['mock']))}) | "
            f"{'yes' if median < TARGET_FIRST_200_SECONDS else '**no**'} |"
        )
    memory = outcome.get("memory")
    if isinstance(memory, MemoryResult) and memory.mock_after_kib:
        after = memory.mock_after_kib * 1024
        if memory.created >= TARGET_CONSENTS:
            rows.append(
                f"| {TARGET_CONSENTS:,} consents in under 300 MB | {after / 1e6:.0f} MB ({mib(memory.mock_after_kib)}) "
                f"after {memory.created:,} | {'yes' if after < TARGET_RSS_BYTES else '**no**'} |"
            )
        elif memory.created and memory.mock_idle_kib:
            per = (after - memory.mock_idle_kib * 1024) / memory.created
            estimate = memory.mock_idle_kib * 1024 + per * TARGET_CONSENTS
            rows.append(
                f"| {TARGET_CONSENTS:,} consents in under 300 MB | only {memory.created:,} created: "
                f"{after / 1e6:.0f} MB; extrapolated to {TARGET_CONSENTS:,}: ~{estimate / 1e6:.0f} MB | "
                f"not measured (extrapolation {'under' if estimate < TARGET_RSS_BYTES else 'over'}) |"
            )
    return rows
