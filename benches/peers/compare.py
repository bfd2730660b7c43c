#!/usr/bin/env python3
"""closedloop side by side with the attribution and linkage tools people use.

Run by `benches/peers/run` inside `benches/peers/.venv`. Everything is timed in
this one run on identical input, so the ratios (peer time / closedloop time)
are what to read; absolute times on a shared machine are noisy.

Attribution (one path file, ChannelAttribution's format, read once here):
  closedloop  `closedloop attribute --paths FILE --models M --json`, timed as a
              whole process (start-up + file read + fit + JSON out), best of N.
  peers       each in a child Python process (so a timeout can stop it): the
              child imports the library, reads the file, converts it to the
              library's input, then fits N times. Reported: `fit` = best fit
              (the library call alone) and `whole` = the child's wall time with
              one fit (import + read + convert + best fit).
Stitching (the event log of the same world):
  Splink (duckdb backend) links cookie summaries (IP, browser, emails typed,
  newsletter token, account id, activity window) with EM-trained m/u, clusters
  at a threshold; visits inherit their cookie's cluster; pairwise P/R/F1 over
  visits against truth/events.csv, next to closedloop's `probabilistic`.

Usage (normally through `run`):
  compare.py --bin target/release/closedloop --paths P.csv --events DIR \
      --scenario S.toml --work DIR [--repeats 3] [--timeout 300] [--skip-splink]
  compare.py --worker PEER METHOD FILE REPEATS   (internal)
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections import defaultdict

T_START = time.perf_counter()
HERE = os.path.dirname(os.path.abspath(__file__))

# --------------------------------------------------------------------------
# Methods: closedloop model ids and what each peer runs for them.
# --------------------------------------------------------------------------

# (row name, closedloop --models list, closedloop model ids whose credit to show)
METHODS = [
    ("markov_1", "markov:1", ["markov_1"]),
    ("markov_3", "markov:3", ["markov_3"]),
    ("shapley_count", "shapley_count", ["shapley_count"]),
    ("shapley_rate", "shapley_rate", ["shapley_rate"]),
    ("heuristics", "first_touch,last_touch,linear", ["first_touch", "last_touch", "linear"]),
]

# peer -> method row -> description of the peer call (printed with the tables)
PEERS = {
    "ChannelAttribution": {
        "markov_1": "markov_model(order=1, ncore=1) — removal effects by simulated walks",
        "markov_3": "markov_model(order=3, ncore=1)",
        "heuristics": "heuristic_models() — first, last, linear in one call",
    },
    "mta": {
        "markov_1": "MTA.markov(sim=False) — 'analytical': sum over observed converting paths",
        "shapley_count": "MTA.shapley() — v(S) = conversions of journeys whose set ⊆ S",
        "heuristics": "MTA.first_touch(), last_touch(), linear(share='proportional')",
    },
    "MAM": {
        "markov_1": "MAM.run_markov() — exact absorbing chain, credit split per journey",
        "shapley_rate": "MAM.run_shapley(max_size=None, value_column='conv_rate')",
        "heuristics": "MAM.run_first_click(), run_last_click(), run_linear()",
    },
}

# --------------------------------------------------------------------------
# Path file helpers (pure Python, used by the parent and the workers)
# --------------------------------------------------------------------------


def read_paths(path):
    import csv

    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.append(
                (
                    r["path"],
                    float(r["total_conversions"]),
                    float(r.get("total_conversion_value") or 0.0),
                    float(r.get("total_null") or 0.0),
                )
            )
    return rows


def write_paths(path, rows):
    with open(path, "w") as f:
        f.write("path,total_conversions,total_conversion_value,total_null\n")
        for p, c, v, n in rows:
            f.write(f"{p},{c:g},{v!r},{n:g}\n")


def shares(credit):
    tot = sum(credit.values())
    return {k: (v / tot if tot else 0.0) for k, v in credit.items()}


# --------------------------------------------------------------------------
# Peer workers (run in a child process: `compare.py --worker PEER METHOD FILE N`)
# --------------------------------------------------------------------------


class Quiet:
    """Silence a library's prints (banners, progress) on stdout and stderr."""

    def __enter__(self):
        self.fds = [os.dup(1), os.dup(2)]
        self.null = os.open(os.devnull, os.O_WRONLY)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.null, 1)
        os.dup2(self.null, 2)

    def __exit__(self, *a):
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.fds[0], 1)
        os.dup2(self.fds[1], 2)
        os.close(self.null)
        for fd in self.fds:
            os.close(fd)


def worker(peer, method, file, repeats):
    """Import, read, convert, fit `repeats` times; print one JSON line."""
    out = {"peer": peer, "method": method}
    if peer == "ChannelAttribution":
        with Quiet():
            import pandas as pd
            import ChannelAttribution as ca
        df = pd.read_csv(file)
        setup = time.perf_counter() - T_START

        def fit():
            with Quiet():
                if method.startswith("markov_"):
                    order = int(method.split("_")[1])
                    res = ca.markov_model(
                        df, "path", "total_conversions",
                        var_value="total_conversion_value", var_null="total_null",
                        order=order, out_more=True, ncore=1, sep=">",
                    )
                    r = res["result"]
                    re_ = res["removal_effects"]
                    return {
                        "credit": {"": dict(zip(r["channel_name"], r["total_conversions"]))},
                        "removal_effects": dict(
                            zip(re_["channel_name"], re_["removal_effects_conversion"])
                        ),
                    }
                r = ca.heuristic_models(
                    df, "path", "total_conversions", var_value="total_conversion_value", sep=">"
                )
                names = list(r["channel_name"])
                return {
                    "credit": {
                        "first_touch": dict(zip(names, r["first_touch_conversions"])),
                        "last_touch": dict(zip(names, r["last_touch_conversions"])),
                        "linear": dict(zip(names, r["linear_touch_conversions"])),
                    }
                }

    elif peer == "mta":
        with Quiet():
            import pandas as pd
            from mta import MTA
        df = pd.read_csv(file)
        # Keep repeated touches (A > A) as in the input, so `linear` means the
        # same per-touch split as closedloop's; no synthetic exposure times.
        with Quiet():
            m0 = MTA(data=df, allow_loops=True, add_timepoints=False)
        setup = time.perf_counter() - T_START

        def fit():
            import copy

            m = copy.copy(m0)
            m.attribution = defaultdict(dict)
            with Quiet():
                if method == "markov_1":
                    m.markov(sim=False, normalize=False)
                    return {"credit": {"": dict(m.attribution["markov"])},
                            "removal_effects": dict(m.attribution["markov"])}
                if method == "shapley_count":
                    m.shapley(normalize=False)
                    return {"credit": {"": dict(m.attribution["shapley"])}}
                m.first_touch(normalize=False)
                m.last_touch(normalize=False)
                m.linear(share="proportional", normalize=False)
            return {
                "credit": {
                    "first_touch": dict(m.attribution["first_touch"]),
                    "last_touch": dict(m.attribution["last_touch"]),
                    "linear": dict(m.attribution["linear"]),
                }
            }

    elif peer == "MAM":
        with Quiet():
            import pandas as pd
            from mam import MAM
        df = pd.read_csv(file)
        # MAM's grouped format has one outcome per row: split each path row into
        # a converting row and a non-converting row.
        conv = pd.DataFrame({"path": df["path"], "occ": df["total_conversions"].astype("int64"),
                             "conv": True})
        null = pd.DataFrame({"path": df["path"], "occ": df["total_null"].astype("int64"),
                             "conv": False})
        g = pd.concat([conv[conv.occ > 0], null[null.occ > 0]], ignore_index=True)
        with Quiet():
            mam = MAM(g, format_type="grouped_journey", channels_colname="path",
                      journey_with_conv_colname="conv", occurrences_colname="occ",
                      path_separator=" > ")
        setup = time.perf_counter() - T_START

        def agg(res):
            d = res.to_dict()
            return dict(zip(d["channels"], d["attribution"]))

        def fit():
            with Quiet():
                if method == "markov_1":
                    r = mam.run_markov()
                    re_ = r.metadata["removal_effect"]
                    return {"credit": {"": agg(r)},
                            "removal_effects": dict(zip(re_.index, re_["removal_effect"]))}
                if method == "shapley_rate":
                    return {"credit": {"": agg(mam.run_shapley(max_size=None,
                                                                 value_column="conv_rate"))}}
                return {
                    "credit": {
                        "first_touch": agg(mam.run_first_click()),
                        "last_touch": agg(mam.run_last_click()),
                        "linear": agg(mam.run_linear()),
                    }
                }
    else:
        raise SystemExit(f"unknown peer {peer}")

    fits = []
    result = None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fit()
        fits.append(time.perf_counter() - t)
    out.update(result)
    out["setup_s"] = setup
    out["fits_s"] = fits
    out["credit"] = {k: {str(a): float(b) for a, b in v.items()} for k, v in out["credit"].items()}
    if "removal_effects" in out:
        out["removal_effects"] = {str(a): float(b) for a, b in out["removal_effects"].items()}
    sys.stdout.write("\n@@RESULT@@" + json.dumps(out) + "\n")


def run_peer(peer, method, file, repeats, timeout):
    """A worker in a child process; its result, or why there is none."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", peer, method, file, str(repeats)]
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"> {timeout:g} s (timeout)", "timeout": True}
    wall = time.perf_counter() - t
    marker = [ln for ln in p.stdout.splitlines() if ln.startswith("@@RESULT@@")]
    if p.returncode != 0 or not marker:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"failed: {tail[:160]}"}
    r = json.loads(marker[-1][len("@@RESULT@@"):])
    r["fit_s"] = min(r["fits_s"])
    r["whole_s"] = wall - sum(r["fits_s"]) + r["fit_s"]
    return r


# --------------------------------------------------------------------------
# closedloop side
# --------------------------------------------------------------------------


def time_cmd(cmd, repeats):
    """Best and median wall time of a command over `repeats` runs, and its stdout."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr}")
        out = p.stdout
    times.sort()
    return times[0], times[len(times) // 2], out


def closedloop_attribute(binary, file, models, repeats):
    best, med, out = time_cmd([binary, "attribute", "--paths", file, "--models", models, "--json"],
                              repeats)
    return best, med, json.loads(out)


# --------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------


def fmt_s(x):
    if x is None:
        return "—"
    if x < 0.01:
        return f"{x * 1000:.2f} ms"
    if x < 1:
        return f"{x * 1000:.0f} ms"
    return f"{x:.2f} s"


def print_table(header, rows, out):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    out.append(line(header))
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        out.append(line(r))
    out.append("")


def read_truth_credit(events_dir):
    import csv

    t = defaultdict(dict)
    with open(os.path.join(events_dir, "truth", "credit.csv"), newline="") as f:
        for r in csv.DictReader(f):
            t[r["truth"]][r["label"]] = float(r["conversions"])
    return t


def channel_shares(credit, channels):
    c = {ch: max(0.0, 0.0) + credit.get(ch, 0.0) for ch in channels}
    tot = sum(c.values())
    return {ch: (v / tot if tot else 0.0) for ch, v in c.items()}


# closedloop's truths (report schema 2), the headline first.
TRUTHS = ("shapley", "incremental", "proximate")


def tvd(a, b, channels):
    """`tvd_channels`: total variation distance of channel shares."""
    return 0.5 * sum(abs(a[ch] - b[ch]) for ch in channels)


# --------------------------------------------------------------------------
# docs/model.md §4.6 worked examples: who is exact
# --------------------------------------------------------------------------

EXAMPLES = {
    "(a)": [("C1 > C2 > C3", 1, 0), ("C1", 0, 1), ("C2 > C3", 0, 1)],
    "(b)": [("A", 2, 1), ("B", 1, 0), ("A > B", 1, 0)],
    "(d)": [("B > A", 0, 1), ("A", 1, 0)],
}
EXPECTED = {
    ("(a)", "markov_1"): {"C1": 0.2, "C2": 0.4, "C3": 0.4},
    ("(a)", "shapley_count"): {"C1": 1 / 3, "C2": 1 / 3, "C3": 1 / 3},
    ("(a)", "shapley_rate"): {"C1": 1 / 3, "C2": 1 / 3, "C3": 1 / 3},
    ("(a)", "first_touch"): {"C1": 1.0},
    ("(a)", "last_touch"): {"C3": 1.0},
    ("(a)", "linear"): {"C1": 1 / 3, "C2": 1 / 3, "C3": 1 / 3},
    ("(b)", "markov_1"): {"A": 2.4, "B": 1.6},
    ("(b)", "shapley_count"): {"A": 2.5, "B": 1.5},
    ("(b)", "shapley_rate"): {"A": 7 / 3, "B": 5 / 3},
    ("(b)", "first_touch"): {"A": 3.0, "B": 1.0},
    ("(b)", "last_touch"): {"A": 2.0, "B": 2.0},
    ("(b)", "linear"): {"A": 2.5, "B": 1.5},
    ("(d)", "markov_1"): {"A": 2 / 3, "B": 1 / 3},
    ("(d)", "shapley_count"): {"A": 1.0, "B": 0.0},
    ("(d)", "shapley_rate"): {"A": 1.0, "B": 0.0},
}


def fmt_credit(credit, keys):
    return ", ".join(f"{k} {credit.get(k, 0.0):.3f}" for k in keys)


def worked_examples(args, out):
    out.append("## docs/model.md §4.6 worked examples: who is exact")
    out.append("")
    out.append("Credit in conversions (peers that return shares are scaled to the total).")
    out.append("")
    peers_for = {}
    for peer, methods in PEERS.items():
        for m in methods:
            peers_for.setdefault(m, []).append(peer)
    rows = []
    for ex, paths in EXAMPLES.items():
        f = os.path.join(args.work, f"example_{ex.strip('()')}.csv")
        write_paths(f, [(p, c, c * 100.0, n) for p, c, n in paths])
        total = sum(c for _, c, _ in paths)
        labels = sorted({s.strip() for p, _, _ in paths for s in p.split(">")})
        _, _, ours = closedloop_attribute(
            args.bin, f, "markov:1,shapley_count,shapley_rate,first_touch,last_touch,linear", 1)
        peer_res = {}
        for row, _, _ in METHODS:
            if row == "markov_3":
                continue
            for peer in peers_for.get(row, []):
                peer_res[(peer, row)] = run_peer(peer, row, f, 1, args.timeout)
        for model in ["markov_1", "shapley_count", "shapley_rate", "first_touch", "last_touch",
                      "linear"]:
            if (ex, model) not in EXPECTED:
                continue
            row = model if model.startswith(("markov", "shapley")) else "heuristics"
            exp = EXPECTED[(ex, model)]
            cells = [ex, model, fmt_credit(exp, labels), fmt_credit(ours[model]["conversions"], labels)]
            for peer in PEERS:
                r = peer_res.get((peer, row))
                if r is None:
                    cells.append("—")
                elif "error" in r:
                    cells.append(r["error"])
                else:
                    key = "" if row != "heuristics" else model
                    cr = r["credit"][key]
                    s = sum(cr.values())
                    if peer == "mta" and row != "heuristics" and s:
                        cr = {k: v / s * total for k, v in cr.items()}  # mta: shares or REs
                    cells.append(fmt_credit(cr, labels))
            rows.append(cells)
    print_table(["example", "model", "exact (docs/model.md)", "closedloop"] + list(PEERS), rows, out)


# --------------------------------------------------------------------------
# Attribution comparison on the real path file
# --------------------------------------------------------------------------


def attribution(args, out):
    rows = read_paths(args.paths)
    unknown = [r for r in rows if r[0] == "unknown"]
    # Journeys with no touch (`unknown`) are credited to `unknown` outright by
    # closedloop (not a Markov state); peers would treat it as a channel. Give
    # everybody the same file without them.
    rows = [r for r in rows if r[0] != "unknown"]
    file = os.path.join(args.work, "paths_touched.csv")
    write_paths(file, rows)
    journeys = sum(r[1] + r[3] for r in rows)
    conv = sum(r[1] for r in rows)
    out.append("## Attribution: identical path file")
    out.append("")
    out.append(f"File: `{file}` — {len(rows)} distinct paths, {journeys:,.0f} journeys, "
               f"{conv:,.0f} conversions ({len(unknown)} `unknown` row(s) with "
               f"{sum(r[1] for r in unknown):g} conversions left out: closedloop credits "
               f"them to `unknown` outright, the peers would make it a channel). "
               f"Best of {args.repeats} repeats; timeout {args.timeout:g} s per peer method.")
    out.append("")
    truth = read_truth_credit(args.events) if args.events else {}
    channels = json.load(open(os.path.join(args.events, "events.json")))["channels"] \
        if args.events else []

    timing_rows = []
    results = {}
    ours_all = {}
    for row, models, ids in METHODS:
        best, med, ours = closedloop_attribute(args.bin, file, models, args.repeats)
        ours_all[row] = (best, med, ours)
        cells = [row, f"{fmt_s(best)} (median {fmt_s(med)})"]
        for peer, methods in PEERS.items():
            if row not in methods:
                cells.append("—")
                continue
            if peer in args.skip_peer:
                cells.append("skipped")
                continue
            print(f"  {peer} {row} ...", file=sys.stderr, flush=True)
            r = run_peer(peer, row, file, args.repeats, args.timeout)
            results[(peer, row)] = r
            if "error" in r:
                cells.append(r["error"])
            else:
                fits = sorted(r["fits_s"])
                cells.append(f"fit {fmt_s(r['fit_s'])} (median {fmt_s(fits[len(fits) // 2])}; "
                             f"{r['fit_s'] / best:.1f}×), "
                             f"whole {fmt_s(r['whole_s'])} ({r['whole_s'] / best:.1f}×)")
        timing_rows.append(cells)
    out.append("### Time (closedloop = whole process; peer: fit alone and whole process, "
               "× = peer time / closedloop time)")
    out.append("")
    print_table(["method", "closedloop"] + list(PEERS), timing_rows, out)

    out.append("### What each peer runs")
    out.append("")
    for peer, methods in PEERS.items():
        for row, desc in methods.items():
            out.append(f"- {peer} `{row}`: {desc}")
    out.append("")

    # Agreement with the exact answer
    agree = []
    for row, _, ids in METHODS:
        ours = ours_all[row][2]
        for model in ids:
            ref = shares(ours[model]["conversions"])
            for peer in PEERS:
                r = results.get((peer, row))
                if r is None or "error" in r:
                    continue
                key = model if row == "heuristics" else ""
                ps = shares(r["credit"][key])
                labels = sorted(set(ref) | set(ps))
                diffs = {k: ps.get(k, 0.0) - ref.get(k, 0.0) for k in labels}
                worst = max(diffs, key=lambda k: abs(diffs[k]))
                cells = [model, peer, f"{abs(diffs[worst]):.4f}",
                         f"{worst} ({ref.get(worst, 0):.4f} → {ps.get(worst, 0):.4f})"]
                if "removal_effects" in r and "removal_effects" in ours[model]:
                    ore = ours[model]["removal_effects"]
                    pre = r["removal_effects"]
                    d = {k: pre.get(k, 0.0) - ore.get(k, 0.0) for k in ore}
                    w = max(d, key=lambda k: abs(d[k]))
                    cells.append(f"{abs(d[w]):.4f} ({w} {ore[w]:.4f} → {pre.get(w, 0):.4f})")
                else:
                    cells.append("—")
                if channels:
                    ts = channel_shares(truth["shapley"], channels)
                    cells.append(f"{tvd(channel_shares(ours[model]['conversions'], channels), ts, channels):.3f}"
                                 f" → {tvd(channel_shares(r['credit'][key], channels), ts, channels):.3f}")
                else:
                    cells.append("— (no truth)")
                agree.append(cells)
    out.append("### Agreement with closedloop's exact credit (shares of conversions over all labels)")
    out.append("")
    print_table(["model", "peer", "max |Δ share|", "where (closedloop → peer)",
                 "max |Δ removal effect|", "tvd_channels vs shapley: closedloop → peer"], agree, out)

    r = results.get(("MAM", "shapley_rate"))
    if r is not None and "error" not in r:
        unfloored, neg_sets, neg_conv = shapley_rate_unfloored(rows)
        ps, us = shares(r["credit"][""]), shares(unfloored)
        d = max(abs(ps.get(k, 0.0) - us.get(k, 0.0)) for k in set(ps) | set(us))
        out.append(f"Why MAM's `shapley_rate` differs: {neg_sets} converting channel sets "
                   f"({neg_conv:g} conversions) have a channel with a negative Shapley value; "
                   f"closedloop floors those at 0 (docs/model.md §4.4), MAM keeps them. The same game "
                   f"recomputed here without the floor matches MAM to max |Δ share| {d:.1e}.")
        out.append("")

    # Credit tables per model
    if channels:
        out.append("### Credit per channel (shares over the scenario's channels) next to the truth")
        out.append("")
        for row, _, ids in METHODS:
            ours = ours_all[row][2]
            for model in ids:
                header = ["label", "shapley", "incremental", "proximate", "closedloop"]
                cols = []
                for peer in PEERS:
                    r = results.get((peer, row))
                    if r is not None and "error" not in r:
                        header.append(peer)
                        cols.append(channel_shares(
                            r["credit"][model if row == "heuristics" else ""], channels))
                ts = {t: channel_shares(truth[t], channels) for t in TRUTHS}
                cs = channel_shares(ours[model]["conversions"], channels)
                table = []
                for ch in channels:
                    table.append([ch] + [f"{ts[t][ch]:.3f}" for t in TRUTHS]
                                 + [f"{cs[ch]:.3f}"] + [f"{c[ch]:.3f}" for c in cols])
                table.append(["tvd_channels vs shapley", "0",
                              f"{tvd(ts['incremental'], ts['shapley'], channels):.3f}",
                              f"{tvd(ts['proximate'], ts['shapley'], channels):.3f}",
                              f"{tvd(cs, ts['shapley'], channels):.3f}"]
                             + [f"{tvd(c, ts['shapley'], channels):.3f}" for c in cols])
                out.append(f"`{model}`")
                out.append("")
                print_table(header, table, out)
    return results


def shapley_rate_unfloored(rows):
    """closedloop's `shapley_rate` game (v = conversion rate of the exact channel
    set) with each converting set split by its Shapley values *without* the
    floor at 0; plus how many converting sets have a negative value."""
    import itertools

    conv, tot = defaultdict(float), defaultdict(float)
    for p, c, _, n in rows:
        t = frozenset(x.strip() for x in p.split(">"))
        conv[t] += c
        tot[t] += c + n
    rate = {t: conv[t] / tot[t] for t in conv if tot[t]}
    credit, neg_sets, neg_conv = defaultdict(float), 0, 0.0
    for t, c in conv.items():
        if c <= 0:
            continue
        n = len(t)
        phi = {}
        for i in t:
            others = sorted(t - {i})
            v = 0.0
            for k in range(len(others) + 1):
                w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
                for sub in itertools.combinations(others, k):
                    s_ = frozenset(sub)
                    v += w * (rate.get(s_ | {i}, 0.0) - rate.get(s_, 0.0))
            phi[i] = v
        if any(x < 0 for x in phi.values()):
            neg_sets += 1
            neg_conv += c
        tot_phi = sum(phi.values())
        for i, x in phi.items():
            credit[i] += c * x / tot_phi if tot_phi else c / n
    return dict(credit), neg_sets, neg_conv


# --------------------------------------------------------------------------
# Stitching: Splink vs closedloop `probabilistic`
# --------------------------------------------------------------------------


def pairs(n):
    return n * (n - 1) // 2


def pairwise_f1(person_of, cluster_of):
    """Pairwise precision/recall/F1 from contingency counts over the same items."""
    cells, clusters, persons = defaultdict(int), defaultdict(int), defaultdict(int)
    for e, p in person_of.items():
        c = cluster_of[e]
        cells[(p, c)] += 1
        clusters[c] += 1
        persons[p] += 1
    tp = sum(pairs(n) for n in cells.values())
    pred = sum(pairs(n) for n in clusters.values())
    true = sum(pairs(n) for n in persons.values())
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "tp_pairs": tp, "fp_pairs": pred - tp, "fn_pairs": true - tp}


def visit_persons(events_dir):
    import csv

    persons = {}
    with open(os.path.join(events_dir, "truth", "events.csv"), newline="") as f:
        for r in csv.DictReader(f):
            if r["table"] == "visits":
                persons[int(r["event_id"])] = int(r["person"])
    return persons


def closedloop_stitch(args, repeats):
    """closedloop's `probabilistic` on the same world (replicate 0 of the scenario).

    One small function so it can later switch to `closedloop attribute --events
    DIR --stitchers probabilistic` (stitching the exported log itself) and
    `closedloop score --clusters`.
    """
    out_dir = os.path.join(args.work, "run_probabilistic")
    cmd = [args.bin, "run", args.scenario, "--stitchers", "probabilistic", "--models",
           "last_touch", "--replicates", "1", "--json", "--quiet", "--out", out_dir]
    best, med, text = time_cmd(cmd, repeats)
    report = json.loads(text)
    metrics = report["replicates"][0]["stitching"]["probabilistic"]
    stages = json.load(open(os.path.join(out_dir, "timings.json")))["replicates"][0]
    # The same without probabilistic: the difference is probabilistic's stitching
    # (plus its threshold-sweep re-fit and its scoring).
    cmd0 = [args.bin, "run", args.scenario, "--stitchers", "cookie_only", "--models",
            "last_touch", "--replicates", "1", "--json", "--quiet", "--out", out_dir + "_0"]
    stage_p, stage_0 = [], []
    cookie_only = None
    for _ in range(repeats):
        subprocess.run(cmd, capture_output=True, check=True)
        stage_p.append(json.load(open(os.path.join(out_dir, "timings.json")))
                       ["replicates"][0]["stitch_attribute_score"])
        p0 = subprocess.run(cmd0, capture_output=True, check=True, text=True)
        cookie_only = json.loads(p0.stdout)["replicates"][0]["stitching"]["cookie_only"]["pairwise"]
        stage_0.append(json.load(open(os.path.join(out_dir + "_0", "timings.json")))
                       ["replicates"][0]["stitch_attribute_score"])
    sweep = report["replicates"][0].get("stitching_threshold_sweep") or []
    best_point = max(sweep, key=lambda p: p["pairwise"]["f1"]) if sweep else None
    return {
        "pairwise": metrics["pairwise"],
        "sweep_best": best_point,
        "cookie_only": cookie_only,
        "world": report["replicates"][0]["world"],
        "run_best_s": best, "run_median_s": med,
        "stage_s": min(stage_p),
        "stitch_est_s": min(stage_p) - min(stage_0),
        "stages": stages,
    }


def splink_link(events_dir, work, threshold):
    """Splink (duckdb) over cookie summaries; returns ({visit event_id: cluster}, timings)."""
    t0 = time.perf_counter()
    with Quiet():
        import duckdb
        import splink.comparison_library as cl
        from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    t_import = time.perf_counter() - t0

    t1 = time.perf_counter()
    con = duckdb.connect()
    v = os.path.join(events_dir, "visits.csv")
    ff = os.path.join(events_dir, "form_fills.csv")
    # One record per cookie: its most frequent IP, browser, first email typed on
    # it (lower-cased), newsletter token, account id, and its activity window.
    con.execute(f"""
        create table visits as select * from read_csv('{v}', header=true, all_varchar=true);
        create table fills as select * from read_csv('{ff}', header=true, all_varchar=true);
        create table cookies as
        with ip as (
            select cookie_id, ip_hash, count(*) n,
                   row_number() over (partition by cookie_id order by count(*) desc, ip_hash) rk
            from visits group by cookie_id, ip_hash),
        em as (
            select cookie_id, lower(min_by(email, cast(time_ms as bigint))) email,
                   max(nullif(user_id, '')) fill_user
            from fills where cookie_id is not null and cookie_id <> '' group by cookie_id)
        select v.cookie_id as unique_id,
               any_value(ip.ip_hash) as ip,
               any_value(v.user_agent) as user_agent,
               max(nullif(v.email_token, '')) as email_token,
               coalesce(max(nullif(v.user_id, '')), any_value(em.fill_user)) as user_id,
               any_value(em.email) as email,
               min(cast(v.time_ms as bigint)) as first_ms,
               max(cast(v.time_ms as bigint)) as last_ms
        from visits v
        join ip on ip.cookie_id = v.cookie_id and ip.rk = 1
        left join em on em.cookie_id = v.cookie_id
        group by v.cookie_id;
    """)
    cookies = con.execute("select * from cookies").df()
    t_prep = time.perf_counter() - t1

    day = 86_400_000
    gap = ("(greatest(first_ms_l, first_ms_r) - least(last_ms_l, last_ms_r))")
    time_gap = cl.CustomComparison(
        output_column_name="time_gap",
        comparison_levels=[
            {"sql_condition": "first_ms_l is null or first_ms_r is null",
             "label_for_charts": "null", "is_null_level": True},
            {"sql_condition": f"{gap} <= 0", "label_for_charts": "overlapping"},
            {"sql_condition": f"{gap} <= {day}", "label_for_charts": "gap <= 1 day"},
            {"sql_condition": f"{gap} <= {7 * day}", "label_for_charts": "gap <= 7 days"},
            {"sql_condition": f"{gap} <= {30 * day}", "label_for_charts": "gap <= 30 days"},
            {"sql_condition": "ELSE", "label_for_charts": "further apart"},
        ],
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        blocking_rules_to_generate_predictions=[
            block_on("ip"), block_on("email"), block_on("email_token"), block_on("user_id"),
        ],
        comparisons=[
            cl.ExactMatch("ip"),
            cl.ExactMatch("user_agent"),
            cl.EmailComparison("email"),
            cl.ExactMatch("email_token"),
            cl.ExactMatch("user_id"),
            time_gap,
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    t2 = time.perf_counter()
    with Quiet():
        linker = Linker(cookies, settings, db_api=DuckDBAPI(connection=con))
        linker.training.estimate_probability_two_random_records_match(
            [block_on("email"), block_on("email_token"), block_on("ip", "user_agent")],
            recall=0.8)
        t_u = time.perf_counter()
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
        t_em = time.perf_counter()
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("ip"))
        # Two EM sessions so every comparison is trained in one of them; both
        # blocks grow linearly with the log (IPs and emails are small groups).
        linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    t_train = time.perf_counter() - t2
    t_em = time.perf_counter() - t_em
    linker.misc.save_model_to_json(os.path.join(work, "splink_model.json"), overwrite=True)
    t3 = time.perf_counter()
    with Quiet():
        pred = linker.inference.predict(threshold_match_probability=0.01)
    t_pred = time.perf_counter() - t3
    results = {}
    t_cluster = 0.0
    for thr in sorted(set([threshold, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999])):
        t4 = time.perf_counter()
        with Quiet():
            clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
                pred, threshold_match_probability=thr).as_pandas_dataframe()
        if thr == threshold:
            t_cluster = time.perf_counter() - t4
        results[thr] = dict(zip(clusters["unique_id"].astype(str), clusters["cluster_id"].astype(str)))
    visit_cookie = dict(con.execute("select cast(event_id as bigint), cookie_id from visits").fetchall())
    timing = {"import_s": t_import, "prep_s": t_prep, "train_s": t_train, "em_s": t_em,
              "predict_s": t_pred,
              "cluster_s": t_cluster, "cookies": len(cookies)}
    # Splink's own work: read + summarise, train, predict, cluster at the
    # declared threshold (not the other thresholds, nor our dict building).
    timing["total_s"] = t_prep + t_train + t_pred + t_cluster
    by_thr = {thr: {e: cl_of.get(c, c) for e, c in visit_cookie.items()}
              for thr, cl_of in results.items()}
    return by_thr, timing


def stitching(args, out):
    out.append("## Stitching: Splink vs closedloop `probabilistic` (pairwise over visits)")
    out.append("")
    persons = visit_persons(args.events)
    print("  closedloop probabilistic ...", file=sys.stderr, flush=True)
    ours = closedloop_stitch(args, args.repeats)
    print("  splink ...", file=sys.stderr, flush=True)
    try:
        best = None
        runs = []
        for _ in range(args.splink_repeats):
            by_thr, timing = splink_link(args.events, args.work, args.splink_threshold)
            runs.append(timing)
            if best is None or timing["total_s"] < best[1]["total_s"]:
                best = (by_thr, timing)
        by_thr, timing = best
    except Exception as e:  # a peer that cannot run is reported, not fatal
        out.append(f"Splink failed: {type(e).__name__}: {e}")
        out.append("")
        return
    rows = []
    pw = ours["pairwise"]
    rows.append(["closedloop probabilistic (threshold 2, log2 LR)", f"{pw['precision']:.3f}",
                 f"{pw['recall']:.3f}", f"{pw['f1']:.3f}",
                 f"run {fmt_s(ours['run_best_s'])} whole process (median {fmt_s(ours['run_median_s'])}); "
                 f"stitch+score stage {fmt_s(ours['stage_s'])}; stitching ≈ {fmt_s(ours['stitch_est_s'])}"])
    if ours["sweep_best"]:
        b = ours["sweep_best"]
        rows.append([f"closedloop probabilistic, best of its threshold sweep ({b['threshold']:g})",
                     f"{b['pairwise']['precision']:.3f}", f"{b['pairwise']['recall']:.3f}",
                     f"{b['pairwise']['f1']:.3f}", "same fit"])
    cluster_file = os.path.join(args.work, "splink_clusters.csv")
    for thr, cl_of in sorted(by_thr.items()):
        m = pairwise_f1(persons, cl_of)
        name = f"Splink, match probability ≥ {thr:g}" + (" (declared)" if thr == args.splink_threshold else "")
        extra = ""
        if thr == args.splink_threshold:
            with open(cluster_file, "w") as f:
                f.write("event_id,cluster_id\n")
                for e, c in sorted(cl_of.items()):
                    f.write(f"{e},{c}\n")
            tt = timing
            extra = (f"{fmt_s(tt['total_s'])} ({tt['total_s'] / ours['run_best_s']:.0f}× "
                     f"closedloop's whole run, {tt['total_s'] / max(ours['stitch_est_s'], 1e-9):.0f}× "
                     f"its stitching): read+summarise {fmt_s(tt['prep_s'])}, "
                     f"train {fmt_s(tt['train_s'])} (EM {fmt_s(tt['em_s'])}), predict {fmt_s(tt['predict_s'])}, "
                     f"cluster {fmt_s(tt['cluster_s'])}; + import {fmt_s(tt['import_s'])}")
            m_cl = score_clusters(args, cluster_file)
            if m_cl is not None:
                ok = abs(m_cl["f1"] - m["f1"]) < 1e-9
                extra += f"; `closedloop score --clusters` F1 {m_cl['f1']:.4f} ({'agrees' if ok else 'DISAGREES'})"
        rows.append([name, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", extra])
    # Cross-check of the Python pairwise scores against closedloop's scorer:
    # closedloop's `cookie_only` partition is the visits grouped by cookie id.
    import csv

    with open(os.path.join(args.events, "visits.csv"), newline="") as f:
        by_cookie = {int(r["event_id"]): r["cookie_id"] for r in csv.DictReader(f)}
    mine = pairwise_f1(persons, by_cookie)
    theirs = ours["cookie_only"]
    same = all(mine[k] == theirs[k] for k in ("tp_pairs", "fp_pairs", "fn_pairs"))
    out.append(f"Scorer cross-check: this script's pairwise counts on the cookie partition "
               f"(TP {mine['tp_pairs']:,}, FP {mine['fp_pairs']:,}, FN {mine['fn_pairs']:,}) "
               f"{'equal' if same else 'DIFFER FROM'} closedloop's `cookie_only` scores.")
    w = ours["world"]
    same = w["recorded_visits"] == len(persons) and w["cookies"] == timing["cookies"]
    out.append(f"Same world: `run` replicate 0 recorded {w['recorded_visits']:,} visits and "
               f"{w['cookies']:,} cookies, the export {len(persons):,} and {timing['cookies']:,} "
               f"({'identical' if same else 'DIFFERENT — the comparison is not on one world'}).")
    out.append(f"{len(persons):,} visits, {timing['cookies']:,} cookies. Splink best of "
               f"{args.splink_repeats} run(s); closedloop best of {args.repeats}.")
    out.append("")
    print_table(["stitcher", "precision", "recall", "F1", "time"], rows, out)


def score_clusters(args, cluster_file):
    """`closedloop score --clusters` where the binary has it (the lead's work)."""
    h = subprocess.run([args.bin, "score", "--help"], capture_output=True, text=True).stdout
    if "--clusters" not in h:
        return None
    p = subprocess.run([args.bin, "score", "--truth", os.path.join(args.events, "truth"),
                        "--clusters", cluster_file, "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)["pairwise"]


# --------------------------------------------------------------------------


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--paths", required=True)
    ap.add_argument("--events")
    ap.add_argument("--scenario")
    ap.add_argument("--work", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--splink-repeats", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--splink-threshold", type=float, default=0.9)
    ap.add_argument("--skip-peer", action="append", default=[])
    ap.add_argument("--skip-splink", action="store_true")
    ap.add_argument("--skip-examples", action="store_true")
    ap.add_argument("--out", help="also write the tables (Markdown) here")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    out = []
    import platform

    out.append(f"closedloop vs peers — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
               f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start, "
               f"Python {platform.python_version()}")
    out.append("")
    if not args.skip_examples:
        worked_examples(args, out)
    attribution(args, out)
    if args.events and not args.skip_splink:
        stitching(args, out)
    out.append(f"load average at end {os.getloadavg()[0]:.2f}")
    text = "\n".join(out)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
