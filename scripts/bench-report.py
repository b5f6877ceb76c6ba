#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the raw results of scripts/bench-guest.sh into a Markdown table, a JSON file and
a PNG plot of the ratios foxramdisk/zram (same algorithm) and foxramdisk-nocomp/brd.

    bench-report.py RAW.jsonl OUTDIR
"""
import json
import sys

raw_path, out = sys.argv[1], sys.argv[2]
rows = [json.loads(line) for line in open(raw_path) if line.strip()]


def fio_result(path, name):
    """The figures of job `name` (group reporting: one entry a job) in fio's JSON output;
    bench-guest.sh names each job `<job>-<numjobs>`."""
    try:
        jobs = json.load(open(f"{out}/{path}"))["jobs"]
        j = next(j for j in jobs if j["jobname"] == name)
        if j["error"]:
            return {"error": f"fio: job failed with error {j['error']}"}
        return {"read_iops": j["read"]["iops"], "write_iops": j["write"]["iops"],
                "read_bw_kib": j["read"]["bw"], "write_bw_kib": j["write"]["bw"]}
    except (OSError, ValueError, KeyError, StopIteration) as e:
        return {"error": f"fio output unreadable or without job {name}: {e!r}"}


for row in rows:
    if "fio_output" in row:
        row["result"] = fio_result(row["fio_output"], f"{row['job']}-{row['numjobs']}")

JOBS = ["randread", "randwrite", "randrw70", "seqread", "seqwrite",
        "randread-qd32", "randwrite-qd32", "randrw70-qd32", "randread-qd32b", "randwrite-qd32b"]
UNIT = {"randread": "IOPS", "randwrite": "IOPS", "randrw70": "IOPS", "seqread": "MiB/s", "seqwrite": "MiB/s",
        "randread-qd32": "IOPS", "randwrite-qd32": "IOPS", "randrw70-qd32": "IOPS",
        "randread-qd32b": "IOPS", "randwrite-qd32b": "IOPS"}


def value(job, r):
    """The figure of merit of a job: IOPS for 4 KiB jobs, MiB/s for 128 KiB ones."""
    if "error" in r:
        return None
    if job in ("seqread", "seqwrite"):
        return (r["read_bw_kib"] + r["write_bw_kib"]) / 1024
    return r["read_iops"] + r["write_iops"]


devices = []
perf, memory, realdata, image, dedup, tiering = {}, {}, {}, {}, {}, {}
kernel = {}
for row in rows:
    if "kernel" in row:
        kernel = row
        continue
    dev = row["device"]
    if dev not in devices:
        devices.append(dev)
    if "job" in row:
        perf.setdefault((dev, row["job"], row["numjobs"]), []).append(value(row["job"], row["result"]))
    elif "memory" in row:
        memory[dev] = row["memory"]
    elif "realdata" in row:
        realdata[dev] = row["realdata"]
    elif "image" in row:
        image[dev] = row["image"]
    elif "dedup" in row:
        dedup.setdefault(row["dedup"]["case"], {})[dev] = row["dedup"]
    elif "tiering" in row:
        tiering.setdefault(row["tiering"]["case"], {})[dev] = row["tiering"]

def median(values):
    """The median of a job's runs on one device; None if any run failed."""
    if not values or None in values:
        return None
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


rounds = max((len(v) for v in perf.values()), default=0)
perf = {k: median(v) for k, v in perf.items()}

pairs = []
for dev in devices:
    if dev.startswith("foxramdisk-"):
        # foxramdisk-lz4+dedup is compared with zram-lz4.
        alg = dev.split("-", 1)[1].split("+")[0]
        if alg == "nocomp" and "brd" in devices:
            pairs.append((dev, "brd"))
        if alg == "nocomp" and "nullblk" in devices:
            pairs.append((dev, "nullblk"))
        if alg != "nocomp" and "zram-" + alg in devices:
            pairs.append((dev, "zram-" + alg))


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, digits=0):
    return "–" if v is None else f"{v:,.{digits}f}"


lines = ["# foxramdisk vs zram vs brd", "",
         "Same fio jobs, same data (50% compressible, refilled buffers), one VM run, psync, direct I/O.",
         "Absolute figures are from a TCG-emulated VM and only mean something next to each other.",
         f"Each figure is the median of {rounds} run{'s' if rounds != 1 else ''}; the two devices of a pair are filled together "
         "and their runs alternate, so that drift in the host's speed weighs on both alike."]
if kernel:
    lines.append(f"Kernel {kernel['kernel']} ({kernel['flavour']} flavour, lockdep "
                 f"{'on' if kernel['lockdep'] else 'off'}).")
    if kernel.get("icount"):
        lines.append(f"The guest's clock counted instructions (QEMU `-icount shift={kernel['icount']}`): "
                     "times and rates are in instructions, not host time, and do not move with the host's load.")
lines.append("")
lines.append("## Throughput")
lines.append("")
lines.append("| job | jobs | unit | " + " | ".join(devices) + " |")
lines.append("|---|---|---|" + "---|" * len(devices))
for job in JOBS:
    for n in (1, 2):
        vals = [fmt(perf.get((d, job, n))) for d in devices]
        lines.append(f"| {job} | {n} | {UNIT[job]} | " + " | ".join(vals) + " |")
lines.append("")
lines.append("## Ratios (above 1: foxramdisk is faster)")
lines.append("")
lines.append("| job | jobs | " + " | ".join(f"{a} / {b}" for a, b in pairs) + " |")
lines.append("|---|---|" + "---|" * len(pairs))
ratios = {}
for job in JOBS:
    for n in (1, 2):
        cells = []
        for a, b in pairs:
            r = ratio(perf.get((a, job, n)), perf.get((b, job, n)))
            ratios[f"{job}/{n}/{a}/{b}"] = r
            cells.append(fmt(r, 2))
        lines.append(f"| {job} | {n} | " + " | ".join(cells) + " |")
lines.append("")
lines.append("## Memory after filling the device")
lines.append("")
lines.append("Device's own account (foxramdisk `mem_used_total`, zram `mm_stat` mem_used_total); the same "
             "with what an account leaves out, so that both are charged alike (\"all in\": zram's account "
             "omits its block table, 16 bytes per page and vmalloc's 8-byte pointer per table page, and "
             "its per-CPU stream buffers, 12 KiB per CPU; foxramdisk's counts its table, chunks and "
             "their pointers, and its buffers); and the guest's view (drop in free memory: MemFree plus the pages on per-CPU free lists; "
             "change in Slab), "
             "per byte stored.")
lines.append("")
lines.append("| device | stored MiB | device says MiB | all in MiB | free memory drop MiB | Slab change MiB "
             "| device bytes/stored byte | all in bytes/stored byte | free memory bytes/stored byte |")
lines.append("|---|---|---|---|---|---|---|---|---|")
mib = 1 << 20


def all_in(m):
    """The device's account plus what it leaves out: every device charged alike."""
    dm, t = m["device_mem_used"], m.get("not_counted")
    return None if dm is None or t is None else dm + t


for d in devices:
    m = memory.get(d)
    if not m:
        continue
    dm, wt = m["device_mem_used"], all_in(m)
    lines.append(f"| {d} | {m['stored_bytes'] / mib:.0f} | {fmt(dm / mib if dm is not None else None, 2)} | "
                 f"{fmt(wt / mib if wt is not None else None, 2)} | "
                 f"{m['free_delta'] / mib:.1f} | {m['slab_delta'] / mib:.1f} | "
                 f"{fmt(ratio(dm, m['stored_bytes']), 4)} | {fmt(ratio(wt, m['stored_bytes']), 4)} | "
                 f"{fmt(ratio(m['free_delta'], m['stored_bytes']), 3)} |")
lines.append("")
if realdata:
    tree = next(iter(realdata.values()))
    lines.append(f"## Real data: `{tree['tree']}` ({tree['tree_bytes'] / mib:.1f} MiB) onto ext4, then read back")
    lines.append("")
    lines.append("| device | copy s | read s | data stored MiB | memory used MiB | all in MiB "
                 "| compression ratio | ratio all in |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for d in devices:
        r = realdata.get(d)
        if not r:
            continue
        st, mem, wt = r["stored_bytes"], r["device_mem_used"], all_in(r)
        lines.append(f"| {d} | {r['copy_s']:.1f} | {r['read_s']:.1f} | {fmt(st / mib if st else None, 1)} | "
                     f"{fmt(mem / mib if mem else None, 2)} | {fmt(wt / mib if wt else None, 2)} | "
                     f"{fmt(ratio(st, mem), 2)} | {fmt(ratio(st, wt), 2)} |")
    lines.append("")

if image:
    tree = next(iter(image.values()))
    lines.append(f"## Real data, the same on every device: `{tree['tree']}` as an ext4 image "
                 f"({tree['image_bytes'] / mib:.0f} MiB, {tree['tree_bytes'] / mib:.1f} MiB of files) "
                 "written block for block")
    lines.append("")
    lines.append("Memory the device uses for the image, its own account and all in (as above), and all in per "
                 "byte of the tree's files.")
    lines.append("")
    lines.append("| device | memory used MiB | all in MiB | all in bytes/file byte |")
    lines.append("|---|---|---|---|")
    for d in devices:
        r = image.get(d)
        if not r or r["device_mem_used"] is None:
            continue
        mem, wt = r["device_mem_used"], all_in(r)
        lines.append(f"| {d} | {mem / mib:.2f} | {fmt(wt / mib if wt is not None else None, 2)} | "
                     f"{fmt(ratio(wt, r['tree_bytes']), 4)} |")
    lines.append("")

def case_table(title, intro, cases):
    """A table of memory by case: each device all in, and foxramdisk's against zram's."""
    lines.append(f"## {title}")
    lines.append("")
    lines.append(intro)
    lines.append("")
    lines.append("| data | " + " | ".join(f"{d} all in MiB" for d in devices) + " | "
                 + " | ".join(f"{a} / {b}" for a, b in pairs) + " |")
    lines.append("|---|" + "---|" * (len(devices) + len(pairs)))
    for case, by_dev in cases.items():
        cells = []
        for d in devices:
            wt = all_in(by_dev[d]) if d in by_dev else None
            cells.append(fmt(wt / mib if wt is not None else None, 2))
        for a, b in pairs:
            wa = all_in(by_dev[a]) if a in by_dev else None
            wb = all_in(by_dev[b]) if b in by_dev else None
            cells.append(fmt(ratio(wa, wb), 3))
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    lines.append("")


if dedup:
    case_table("Duplicate data: memory",
               "Memory each device uses for the same duplicate data, all in (as above), and foxramdisk's "
               "against zram's (below 1: foxramdisk uses less).", dedup)
if tiering:
    case_table("Tiering: memory",
               "Memory each device uses for the tree's image above, all in, after the tiering step of "
               "each row, and foxramdisk's against zram's (below 1: foxramdisk uses less).", tiering)
    backing = {case: by_dev for case, by_dev in tiering.items()
               if any(r.get("backing_bytes") is not None for r in by_dev.values())}
    for case, by_dev in backing.items():
        lines.append(f"Backing store used after \"{case}\", in MiB, and foxramdisk's against zram's:")
        lines.append("")
        lines.append("| " + " | ".join(devices) + " | " + " | ".join(f"{a} / {b}" for a, b in pairs) + " |")
        lines.append("|" + "---|" * (len(devices) + len(pairs)))
        used = {d: by_dev[d].get("backing_bytes") if d in by_dev else None for d in devices}
        cells = [fmt(used[d] / mib if used[d] is not None else None, 2) for d in devices]
        cells += [fmt(ratio(used.get(a), used.get(b)), 3) for a, b in pairs]
        lines.append("| " + " | ".join(cells) + " |")
        lines.append("")

open(f"{out}/bench.md", "w").write("\n".join(lines) + "\n")
json.dump({"devices": devices, "raw": rows, "ratios": ratios}, open(f"{out}/bench.json", "w"), indent=1)

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [f"{j}\n{n} job{'s' if n > 1 else ''}" for j in JOBS for n in (1, 2)]
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / max(1, len(pairs))
    for i, (a, b) in enumerate(pairs):
        ys = [ratios.get(f"{j}/{n}/{a}/{b}") or 0 for j in JOBS for n in (1, 2)]
        ax.bar([x + i * width for x in range(len(groups))], ys, width, label=f"{a} / {b}")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks([x + width * (len(pairs) - 1) / 2 for x in range(len(groups))])
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylabel("ratio (above 1: foxramdisk faster)")
    ax.set_title("foxramdisk relative to zram (same algorithm) and brd (nocomp)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{out}/bench.png", dpi=100)
except ImportError:
    print("matplotlib missing: no plot", file=sys.stderr)
print(open(f"{out}/bench.md").read())
