"""report.html for one analysed input: what was seen, when, where and how fast, in one self-contained page.

Built from the input's own events.jsonl and summary.json (so it can be rebuilt from the outputs alone),
plus the first-sighting thumbnails the pipeline kept. Plots are PNGs from matplotlib and, like the
thumbnails, embedded as base64, so the page can be mailed or archived as a single file; the annotated video
beside it (H.264, which browsers play) is shown in a <video> element by its relative name.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: render to memory
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from roadwatch.outputs.files import write_text_atomic  # noqa: E402
from roadwatch.outputs.palette import colour_of  # noqa: E402


def read_events(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def track_spans(events: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """track id -> category, class, first and last media time, and the speeds its events reported (pixels/s, and
    km/h where the camera is calibrated)."""
    spans: dict[int, dict[str, Any]] = {}
    for e in events:
        if not e["type"].startswith("track."):
            continue
        span = spans.setdefault(e["track_id"], {"category": e["category"], "class": e["class"],
                                                "start": e["pts"], "end": e["pts"], "speeds": [], "kmh": []})
        span["end"] = max(span["end"], e["pts"])
        span["class"] = e["class"]  # its class voted over its life: the last event's says it best
        span["speeds"].append(e["speed_px_s"])
        if "speed_kmh" in e:
            span["kmh"].append(e["speed_kmh"])
    return spans


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def plot_objects_over_time(spans: dict[int, dict[str, Any]], duration_s: float) -> str:
    times = np.linspace(0, max(duration_s, 0.1), 200)
    fig, ax = plt.subplots(figsize=(7.5, 2.6))
    categories = sorted({s["category"] for s in spans.values()})
    for category in categories:
        starts = np.array([s["start"] for s in spans.values() if s["category"] == category])
        ends = np.array([s["end"] for s in spans.values() if s["category"] == category])
        counts = ((starts[None, :] <= times[:, None]) & (times[:, None] <= ends[None, :])).sum(axis=1)
        ax.step(times, counts, where="post", label=category, color=colour_of(category))
    ax.set_xlabel("video time (s)")
    ax.set_ylabel("objects in view")
    ax.set_title("Objects per category over time")
    if categories:
        ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def plot_zone_line_counts(summary: dict[str, Any]) -> str | None:
    bars = [(f"{zone}: entered", c.get("entered", 0)) for zone, c in summary.get("zones", {}).items()]
    bars += [(f"{line}: {d}", n) for line, c in summary.get("lines", {}).items() for d, n in sorted(c.items())]
    if not bars:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 0.5 + 0.4 * len(bars)))
    ax.barh([b[0] for b in bars], [b[1] for b in bars], color="#a855f7")
    ax.set_xlabel("count")
    ax.set_title("Zones and lines")
    ax.invert_yaxis()
    return _png(fig)


def plot_speed_histogram(spans: dict[int, dict[str, Any]]) -> str | None:
    """Each track's median speed: in km/h on a calibrated camera, else on screen in pixels/s."""
    calibrated = any(s["kmh"] for s in spans.values())
    key, unit = ("kmh", "on the road (km/h)") if calibrated else ("speeds", "on screen (pixels/s)")
    speeds = [float(np.median(s[key])) for s in spans.values() if s[key]]
    if not speeds:
        return None
    fig, ax = plt.subplots(figsize=(7.5, 2.6))
    ax.hist(speeds, bins=min(20, max(5, len(speeds) // 2)), color="#3b82f6")
    ax.set_xlabel(f"median speed of each track {unit}")
    ax.set_ylabel("tracks")
    ax.set_title("Speed")
    return _png(fig)


def counts_tables(summary: dict[str, Any]) -> str:
    """Line crossings per class and direction, and the flows between zones (first entered -> last entered)."""
    esc = html.escape
    out = ""
    crossings = [(line, d, c, n) for line, by in sorted(summary.get("line_classes", {}).items())
                 for d, cs in sorted(by.items()) for c, n in sorted(cs.items())]
    if crossings:
        rows = "".join(f"<tr><td>{esc(line)}</td><td>{esc(d)}</td><td>{esc(c)}</td><td>{n}</td></tr>"
                       for line, d, c, n in crossings)
        head = "<tr><th>line</th><th>direction</th><th>class</th><th>count</th></tr>"
        out += f"<h2>Line crossings</h2><table>{head}{rows}</table>"
    flows = [(o, d, n) for o, to in sorted(summary.get("od", {}).items()) for d, n in sorted(to.items())]
    if flows:
        rows = "".join(f"<tr><td>{esc(o)}</td><td>{esc(d)}</td><td>{n}</td></tr>" for o, d, n in flows)
        out += f"<h2>Flows between zones</h2><table><tr><th>from</th><th>to</th><th>tracks</th></tr>{rows}</table>"
    return out


def write_report(stream_dir: Path, thumbnails: dict[int, bytes] | None = None, long_lived_s: float = 2.0) -> Path:
    """Write stream_dir/report.html from stream_dir/events.jsonl and summary.json; returns its path."""
    summary = json.loads((stream_dir / "summary.json").read_text(encoding="utf-8"))
    events = read_events(stream_dir / "events.jsonl")
    (stream_id, stream), = summary["streams"].items()
    spans = track_spans(events)
    duration = max([e["pts"] for e in events], default=0.0)
    figures = [("Objects per category over time", plot_objects_over_time(spans, duration)),
               ("Zones and lines", plot_zone_line_counts(summary)),
               ("Speed", plot_speed_histogram(spans))]
    long_lived = sorted((s["start"], tid) for tid, s in spans.items() if s["end"] - s["start"] >= long_lived_s)
    thumbnails = thumbnails or {}

    esc = html.escape
    rows = "".join(f"<tr><td>{esc(c)}</td><td>{n}</td></tr>" for c, n in sorted(summary["tracks"].items()))
    video = ('<h2>Annotated video</h2><video src="annotated.mp4" controls muted playsinline preload="auto"></video>'
             if (stream_dir / "annotated.mp4").is_file() else "")
    clips = "".join(
        f'<tr><td><a href="{esc(e["path"])}">{esc(Path(e["path"]).name)}</a></td><td>{e["start_pts"]:.1f}-'
        f'{e["end_pts"]:.1f} s</td><td>{esc(", ".join(e["reasons"]))}</td><td>{len(e["event_ids"])}</td></tr>'
        for e in events if e["type"] == "clip.saved")
    plates = "".join(
        f"<tr><td>{esc(p['plate_text'])}</td><td>#{p['track_id']}</td><td>{p['pts']:.1f} s</td>"
        f"<td>{esc(p['watch_plate'] or '')}</td></tr>" for p in summary.get("plates", []))
    plates = (f"<h2>Plates read</h2><table><tr><th>plate</th><th>track</th><th>video time</th><th>watchlist</th>"
              f"</tr>{plates}</table>" if plates else "")
    clips = (f"<h2>Clips</h2><table><tr><th>clip</th><th>video time</th><th>triggers</th><th>events</th></tr>{clips}"
             "</table>" if clips else "")
    notes = "".join(f'<p class="warn">{esc(stream[k])}</p>' for k in ("warning", "error") if stream.get(k))
    plots = "".join(
        f'<figure><img alt="{esc(title)}" src="data:image/png;base64,{png}"></figure>' if png
        else f'<p class="none">{esc(title)}: nothing to show (none configured or seen).</p>'
        for title, png in figures
    )
    strip = "".join(
        f'<figure class="thumb"><img alt="track {tid}" '
        f'src="data:image/jpeg;base64,{base64.b64encode(thumbnails[tid]).decode()}">'
        f"<figcaption>#{tid} {esc(spans[tid]['class'])}<br>{start:.1f} s, {spans[tid]['end'] - start:.1f} s "
        f"long</figcaption></figure>"
        for start, tid in long_lived if tid in thumbnails
    ) or "<p class=\"none\">No track lasted long enough.</p>"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>roadwatch report: {esc(stream_id)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #111; max-width: 60rem; }}
h1 {{ font-size: 1.4rem; }} h2 {{ font-size: 1.1rem; margin-top: 2rem; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 0.2rem 0.8rem; border-bottom: 1px solid #ddd; text-align:
left; }}
.warn {{ color: #b45309; }} .none {{ color: #666; }}
.strip {{ display: flex; flex-wrap: wrap; gap: 0.5rem; }} .thumb {{ margin: 0; font-size: 0.75rem; text-align: center;
}}
figure img, video {{ max-width: 100%; }}
</style></head>
<body>
<h1>{esc(stream_id)}</h1>
<p>{esc(stream["source"])}: {stream["frames"]} frames, {duration:.1f} s of video, status {esc(stream["status"])};
{summary["events"].get("track.started", 0)} tracks.</p>
{notes}
<table><tr><th>category</th><th>tracks</th></tr>{rows}</table>
{counts_tables(summary)}
{video}
{plates}
{clips}
<h2>Plots</h2>
{plots}
<h2>First sightings of tracks seen for {long_lived_s:g} s or more</h2>
<div class="strip">{strip}</div>
<script>
// For tests and for people: say whether every picture on the page decoded.
window.addEventListener("load", () => {{
  const images = Array.from(document.images);
  document.body.dataset.imagesTotal = images.length;
  document.body.dataset.imagesLoaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
}});
</script>
</body></html>
"""
    path = stream_dir / "report.html"
    write_text_atomic(path, page)
    return path
