"""The court seal's look: a red round stamp naming the issuing court and the signing time.

It is drawn as a one-page PDF (reportlab) that the PDF signature then uses as its visible appearance
(``gateway.core.pdfsign``): the court's name runs along the upper arc as on a court's physical seal, a
star in the middle, "电子签章" under it and the signing time, in Beijing time, below. Only strokes and
glyphs, no fill, so the text under the stamp stays legible. The same name, time and size always give the
same bytes (reportlab's invariant mode).
"""

from __future__ import annotations

import io
import math
from datetime import datetime
from functools import lru_cache
from typing import Any

from gateway.adapters.model import CHINA_TZ

RED = (0.80, 0.06, 0.06)


@lru_cache(maxsize=1)
def _font() -> str:
    """reportlab's built-in CID font for Chinese, as the watermark and the certificate use."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def prepare_font() -> None:
    """Register the font before any worker thread draws (reportlab's registry is process-global)."""
    _font()


def _star(pdf: Any, cx: float, cy: float, radius: float) -> None:
    """A five-pointed star, point up, outlined and filled red (the one filled part: it is small)."""
    path = pdf.beginPath()
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.38
        angle = math.radians(90 + i * 36)
        x, y = cx + r * math.cos(angle), cy + r * math.sin(angle)
        if i == 0:
            path.moveTo(x, y)
        else:
            path.lineTo(x, y)
    path.close()
    pdf.drawPath(path, stroke=0, fill=1)


def draw_stamp(court_name: str, signed_at: datetime, size: float = 128.0) -> bytes:
    """The stamp as a ``size`` × ``size`` point PDF page."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    font = _font()
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(size, size), invariant=True)
    pdf.setStrokeColorRGB(*RED)
    pdf.setFillColorRGB(*RED)
    c = size / 2
    ring = size / 2 - size * 0.03
    pdf.setLineWidth(size * 0.028)
    pdf.circle(c, c, ring, stroke=1, fill=0)

    # the court's name along the upper arc, each character upright to the rim
    name = court_name.strip() or "人民法院"
    span = min(240.0, 24.0 * len(name))
    font_size = min(size * 0.12, 0.9 * math.radians(span) * ring * 0.72 / max(len(name), 1))
    baseline = ring - size * 0.04 - font_size
    step = span / max(len(name) - 1, 1)
    for i, ch in enumerate(name):
        angle = 90 + span / 2 - i * step if len(name) > 1 else 90
        theta = math.radians(angle)
        pdf.saveState()
        pdf.translate(c + baseline * math.cos(theta), c + baseline * math.sin(theta))
        pdf.rotate(angle - 90)
        pdf.setFont(font, font_size)
        pdf.drawCentredString(0, 0, ch)
        pdf.restoreState()

    _star(pdf, c, c + size * 0.03, size * 0.13)
    label_size = size * 0.085
    pdf.setFont(font, label_size)
    pdf.drawCentredString(c, c - size * 0.19, "电子签章")
    local = signed_at.astimezone(CHINA_TZ)
    for text, y in ((f"{local:%Y-%m-%d}", c - size * 0.28), (f"{local:%H:%M:%S}", c - size * 0.355)):
        time_size = size * 0.062
        while time_size > 3 and stringWidth(text, font, time_size) > size * 0.5:
            time_size -= 0.25
        pdf.setFont(font, time_size)
        pdf.drawCentredString(c, y, text)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()
