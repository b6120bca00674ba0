"""Write a :class:`StyleEvaluation` as ``metrics.json`` and one self-contained ``report.html``.

The HTML embeds everything (plots as base64 PNG, image grids as JPEG), so it can be mailed or attached to a release:
metric tables for both directions and the groups, an NME histogram, per-group bar charts, and grids of
input | output | round trip (JPEG) for the first faces, the worst faces by landmark error, and a few faces per group.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from toonbridge.eval.style_eval import FaceRecord, SetResult, StyleEvaluation
from toonbridge.imageio import write_text_atomic

DIRECTION_TITLES = {"cartoonize": "photo → cartoon", "realize": "cartoon → photo"}


def require_plotting() -> None:
    """Fail before a long evaluation, not after it, when the plots cannot be drawn."""
    import importlib.util

    from toonbridge.errors import ToonbridgeError

    if importlib.util.find_spec("matplotlib") is None:
        raise ToonbridgeError('the report\'s plots need matplotlib: pip install "toonbridge[eval]"')


def write_report(evaluation: StyleEvaluation, out_dir: str | Path, examples: int = 8, worst: int = 8,
                 per_group: int = 2) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    metrics_path, html_path = out_dir / "metrics.json", out_dir / "report.html"
    write_text_atomic(metrics_path, json.dumps(evaluation.to_dict(), indent=1) + "\n")
    write_text_atomic(html_path, render_html(evaluation, examples, worst, per_group))
    return metrics_path, html_path


def render_html(evaluation: StyleEvaluation, examples: int, worst: int, per_group: int) -> str:
    model = evaluation.model
    parts = [
        f"<h1>toonbridge evaluation: {html.escape(evaluation.style)}</h1>",
        f"<p>Model step {model.get('step')}, {model.get('wall_minutes')} min of training ({html.escape(str(model.get('method')))}). "
        f"Options: {html.escape(json.dumps(evaluation.options))}. KID×100 on TF-Inception pool3 features (100 subsets of "
        f"up to 100); NME: mean 5-point error / inter-ocular distance between input and output; identity: share of "
        f"photo → cartoon → photo round trips under dlib's 0.6.</p>",
        "<h2>Both directions</h2>",
        _metrics_table([(DIRECTION_TITLES.get(name, name), result) for name, result in evaluation.directions.items()],
                       evaluation.attribute),
        _image(_nme_histogram(evaluation), "NME histogram"),
    ]
    if evaluation.groups:
        parts += ["<h2>Groups (cartoonize)</h2>", _metrics_table([(g.label, g) for g in evaluation.groups], evaluation.attribute),
                  _image(_group_bars(evaluation), "per-group metrics")]
    for name, result in evaluation.directions.items():
        title = DIRECTION_TITLES.get(name, name)
        parts += [f"<h2>{title}: first {examples}</h2>", _grid(result, range(min(examples, result.n_inputs)))]
        ranked = [i for i in np.argsort([-(f.nme if f.nme is not None else -1) for f in result.faces]) if result.faces[i].nme is not None]
        if ranked:
            parts += [f"<h2>{title}: worst {worst} by landmark error</h2>", _grid(result, ranked[:worst])]
    if evaluation.groups:
        parts.append("<h2>Groups: first faces of each</h2>")
        for group in evaluation.groups:
            parts += [f"<h3>{html.escape(group.label)}</h3>", _grid(group, range(min(per_group, group.n_inputs)))]
    return _page(evaluation.style, "\n".join(parts))


def _metrics_table(rows: list[tuple[str, SetResult]], attribute: str | None) -> str:
    header = ["", "inputs", "KID×100", "NME", f"{attribute or 'attribute'} kept", "identity same", "faces found"]
    body = []
    for title, result in rows:
        cells = [html.escape(title), str(result.n_inputs), f"{result.kid:.2f} ± {result.kid_std:.2f}",
                 _number(result.nme, "{:.3f}"), _percent(result.attribute_kept), _percent(result.identity_same),
                 _percent(result.identity_found)]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{''.join(f'<th>{h}</th>' for h in header)}</tr>{''.join(body)}</table>"


def _grid(result: SetResult, indices) -> str:
    rows = []
    for index in indices:
        face: FaceRecord = result.faces[index]
        strip = np.concatenate([result.images[key][index] for key in ("input", "output", "round_trip")], axis=1)
        details = [f"NME {_number(face.nme, '{:.3f}')}"]
        if face.class_in is not None or face.class_out is not None:
            details.append(f"{face.class_in} → {face.class_out}")
        if face.identity is not None:
            details.append(f"identity distance {face.identity:.2f}")
        rows.append(f"<tr><td>{_image(_jpeg(strip), face.name)}</td><td>{html.escape(face.name)}<br>{'<br>'.join(details)}</td></tr>")
    return f"<table class=grid><tr><th>input | output | round trip</th><th></th></tr>{''.join(rows)}</table>"


def _nme_histogram(evaluation: StyleEvaluation) -> bytes:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 3))
    for name, result in evaluation.directions.items():
        values = [face.nme for face in result.faces if face.nme is not None]
        if values:
            axis.hist(values, bins=30, alpha=0.6, label=DIRECTION_TITLES.get(name, name))
    axis.set_xlabel("landmark NME (input vs output)")
    axis.set_ylabel("faces")
    axis.legend()
    return _figure_png(figure)


def _group_bars(evaluation: StyleEvaluation) -> bytes:
    plt = _pyplot()
    labels = [group.label for group in evaluation.groups]
    measures = [("KID×100", [g.kid for g in evaluation.groups]),
                (f"{evaluation.attribute or 'attribute'} kept", [g.attribute_kept for g in evaluation.groups]),
                ("identity same", [g.identity_same for g in evaluation.groups]),
                ("NME", [g.nme for g in evaluation.groups])]
    figure, axes = plt.subplots(1, len(measures), figsize=(2.8 * len(measures), 3.5))
    for axis, (title, values) in zip(axes, measures):
        axis.barh(labels, [np.nan if v is None else v for v in values])
        axis.set_title(title)
        axis.invert_yaxis()
    for axis in axes[1:]:
        axis.set_yticklabels([])
    return _figure_png(figure)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display; the figures only become PNG bytes
    import matplotlib.pyplot as plt

    return plt


def _figure_png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    _pyplot().close(figure)
    return buffer.getvalue()


def _jpeg(image: np.ndarray) -> bytes:
    """Grids as JPEG (quality 92): a tenth of the PNG size, so a report with 60 rows stays under a megabyte."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def _image(data: bytes, alt: str) -> str:
    kind = "jpeg" if data[:2] == b"\xff\xd8" else "png"
    return f'<img alt="{html.escape(alt)}" src="data:image/{kind};base64,{base64.b64encode(data).decode()}">'


def _number(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _page(title: str, body: str) -> str:
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
             "table.grid td{vertical-align:middle}img{max-width:100%}")
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>toonbridge report: {html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n{body}\n</body></html>\n")
