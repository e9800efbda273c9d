"""The main job's end-of-run table: stages, times, results, unseen-driver accuracies, latencies."""

from __future__ import annotations

from pathlib import Path


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def results_table(summary: dict, workdir: Path) -> str:
    """The readable end-of-run table: stages with their times and results, the unseen driver's
    per-modality and fused accuracy, edge latencies and where the outputs are."""
    timings = summary["timings"]
    cohort = summary["cohort"]
    faces = sum(cohort["faces_per_class"].values())
    rows: list[tuple[str, str, str]] = [
        ("cohort", _duration(timings["cohort_s"]),
         f"{cohort['drivers']} synthetic drivers (+1 unseen test driver), {faces} faces, "
         f"{cohort['episodes']} episodes")]
    if "face" in summary:
        face, physio = summary["face"], summary["physio"]
        rows.append(("train", _duration(timings["train_s"]),
                     f"face CNN, FedAvg {face['rounds']} rounds, {face['clients']} driver clients: "
                     f"validation driver {_fmt(face['validation_driver_accuracy'])}, test driver "
                     f"{_fmt(face['test_driver_accuracy'])} (7 expressions)"))
        rows.append(("", "", f"physio federated forest, {physio['clients']} driver clients: "
                             f"held-out drivers {_fmt(physio['held_out_accuracy'])} "
                             f"(3 states, calibration {physio['calibration']})"))
    if "bundle" in summary:
        fusion = summary.get("fusion_weights")
        fitted = ""
        if fusion is not None:
            w = dict(zip(fusion["modalities"], fusion["weights"], strict=True))
            fitted = (f"; fusion weights face {w['face'][0]:.2f} / physio {w['physio'][0]:.2f} "
                      f"fitted on validation driver {fusion['fitted_on_driver']}")
        rows.append(("bundle", _duration(timings["bundle_s"]),
                     "int8 face CNN + builtin-op forest + fusion/feature configs" + fitted))
    if "replay" in summary:
        replayed = summary["replay"]
        seconds = sum(replayed["episode_s"])
        rows.append(("replay", _duration(timings["replay_s"]),
                     f"tflite-runtime harness, driver {replayed['driver']} (seen by no "
                     f"trainer), {seconds / 60:.1f} min of drive"))
    rows.append(("total", _duration(sum(timings.values())), ""))
    width = max(len(r[0]) for r in rows)
    lines = ["", "[pipeline] results", f"  {'stage':<{width}}  {'time':>12}  result"]
    lines += [f"  {a:<{width}}  {b:>12}  {c}".rstrip() for a, b, c in rows]
    if "replay" in summary:
        acc = summary["replay"]["accuracy"][0]
        harness = summary["replay"]["harness"][0]
        lines += ["", "  unseen driver, driver state (neutral/positive/negative; chance ~0.33):",
                  f"    {'modality':<8}  {'accuracy':>8}  {'decisions':>9}  single readings"]
        for name in ("face", "physio", "fused"):
            single = _fmt(acc.get(name + "_reading")) if name != "fused" else ""
            lines.append(f"    {name:<8}  {_fmt(acc[name]):>8}  {acc[name + '_decisions']:>9}  "
                         f"{single}".rstrip())
        lines.append("    (accuracy: the state fusion used, pooled over recent readings where "
                     "the bundle pools them; single readings: the latest reading alone)")
        stages = [(k, v) for k, v in harness["latency_ms"].items() if v["count"]]
        lines += ["", "  edge latency per call (ms):  " + ", ".join(
            f"{k} p50 {v['p50']:.2f} / p99 {v['p99']:.2f}" for k, v in stages
            if k != "event")]
        counts = harness["incidents"]["counts"]
        if counts:
            lines.append("  replay incidents (counted, not fatal): " + ", ".join(
                f"{kind} {n}" for kind, n in counts.items())
                + "  (-v 0 logs each; the synthetic drives include sensor dropouts)")
        lines.append(f"  peak RSS {harness['peak_rss_mb']} MB (this process also trained "
                     "the models; benchmarks.edge_latency measures the edge alone)")
    lines.append(f"  outputs  {workdir.resolve()}  (summary.json, face/learning_curve.png, "
                 "bundle/, replay_episode*.jsonl)")
    return "\n".join(lines)
