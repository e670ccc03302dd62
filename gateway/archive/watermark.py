"""The visible watermark on every page of a downloaded case-file material (DESIGN §4 "Case-file access").

Each page gets, drawn over its content: the reader's name, their masked ID (or licence, or staff) number,
the time in Beijing time and the trace id, as a line across the foot of the page (plain horizontal text,
so it survives text extraction and printing) and as faint diagonal tiles across the page (so it cannot
be cropped away). Scanned materials that arrive as JPEG or PNG are first put on a page of their own.

Rendering is CPU work (pypdf parses, reportlab draws): callers run it in a worker thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from pypdf import PdfReader, PdfWriter, Transformation

from gateway.adapters.model import CHINA_TZ
from gateway.core.errors import Refusal


@dataclass(frozen=True, slots=True)
class Watermark:
    reader_name: str
    #: already masked where it must be, with its label: "身份证号 440104********3121"
    reader_number: str
    at: datetime
    trace_id: str

    def line(self) -> str:
        """The footer line: everything the watermark says, in one extractable line."""
        return (
            f"阅卷人：{self.reader_name}  {self.reader_number}  "
            f"时间：{_china(self.at)}（北京时间）  追踪码：{self.trace_id}"
        )


class NotAPdf(Refusal):
    """The material is neither a readable PDF nor an image we can put on a page (the court's copy is bad)."""

    code = "COURT_FILE_UNREADABLE"


def _china(at: datetime) -> str:
    return at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


@lru_cache(maxsize=1)
def _font() -> str:
    """reportlab's built-in CID font for Chinese, as the certificate uses (no font file to ship)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def prepare_fonts() -> None:
    """Register the font before any worker thread draws (reportlab's registry is process-global)."""
    _font()


def _overlay(width: float, height: float, mark: Watermark) -> bytes:
    """One transparent page of ``width`` × ``height`` points carrying the watermark."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    font = _font()
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(width, height))
    line = mark.line()
    size = 8.0
    while size > 4 and stringWidth(line, font, size) > width - 24:
        size -= 0.5
    # the footer: a white band so the line stays legible over any content
    pdf.setFillColorRGB(1, 1, 1)
    pdf.setFillAlpha(0.85)
    pdf.rect(0, 4, width, size + 8, stroke=0, fill=1)
    pdf.setFillAlpha(1)
    pdf.setFillColorRGB(0.55, 0.0, 0.0)
    pdf.setFont(font, size)
    pdf.drawCentredString(width / 2, 8, line)
    # the tiles: name, number and time, faint and diagonal, across the whole page
    tile = f"{mark.reader_name} {mark.reader_number} {_china(mark.at)}"
    pdf.setFillColorRGB(0.5, 0.5, 0.5)
    pdf.setFillAlpha(0.16)
    pdf.setFont(font, 14)
    step_x, step_y = stringWidth(tile, font, 14) + 60, 140.0
    pdf.saveState()
    pdf.translate(width / 2, height / 2)
    pdf.rotate(35)
    span = (width**2 + height**2) ** 0.5
    y = -span / 2
    while y < span / 2:
        x = -span / 2 - (step_x / 2 if int(y / step_y) % 2 else 0)
        while x < span / 2:
            pdf.drawString(x, y, tile)
            x += step_x
        y += step_y
    pdf.restoreState()
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def image_pdf(content: bytes) -> bytes:
    """A JPEG or PNG scan on an A4 page of its own, scaled to fit."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    try:
        image = ImageReader(io.BytesIO(content))
        iw, ih = image.getSize()
    except Exception as e:  # reportlab raises whatever its image backend raises
        raise NotAPdf(f"the material is not a readable image: {e}") from None
    width, height = A4
    scale = min((width - 40) / iw, (height - 60) / ih, 1.0)
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4)
    pdf.drawImage(image, (width - iw * scale) / 2, (height - ih * scale) / 2 + 10, iw * scale, ih * scale)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def watermark(content: bytes, mark: Watermark) -> tuple[bytes, int]:
    """The material as a PDF with the watermark on every page, and its page count.

    ``content`` is a PDF, or a JPEG/PNG scan (put on a page first). Raises NotAPdf for anything else.
    """
    if content.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")):
        content = image_pdf(content)
    if not content.lstrip()[:5] == b"%PDF-":
        raise NotAPdf("the material is not a PDF")
    try:
        reader = PdfReader(io.BytesIO(content))
        writer = PdfWriter(clone_from=reader)
    except Exception as e:  # pypdf's errors for damaged files are many and not one hierarchy
        raise NotAPdf(f"the material's PDF cannot be read: {e}") from None
    overlays: dict[tuple[float, float], object] = {}
    for page in writer.pages:
        if page.rotation:
            page.transfer_rotation_to_content()  # the watermark reads upright as the page is shown
        box = page.mediabox
        size = (float(box.width), float(box.height))
        if size not in overlays:
            overlays[size] = PdfReader(io.BytesIO(_overlay(*size, mark))).pages[0]
        page.merge_transformed_page(
            overlays[size],  # type: ignore[arg-type]
            Transformation().translate(float(box.left), float(box.bottom)),
        )
    writer.add_metadata({"/CourtGatewayTrace": mark.trace_id})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), len(writer.pages)
