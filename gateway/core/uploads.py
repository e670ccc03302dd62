"""Checking uploaded files before they are stored: type by content, names, sizes and counts.

A declared content type is whatever the client says; courts take PDF, JPEG and PNG, so the type is
read from the file's first bytes (its magic number). A declared type that names an allowed type but
disagrees with the content is refused too: that is a renamed file, and the filer should know.
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

from gateway.core.errors import InvalidInput

#: content type → the bytes every such file starts with
MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
#: declared types that say nothing about the content (browsers send these for unknown files)
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
#: non-standard names clients send for the allowed types
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "application/x-pdf": "application/pdf",
}
ALLOWED_NAMES = "PDF, JPEG or PNG"
MAX_NAME_LENGTH = 255


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_file_bytes: int
    max_total_bytes: int
    max_files: int


@dataclass(frozen=True, slots=True)
class IncomingFile:
    """A file as received. ``content`` may be cut at ``max_file_bytes + 1``: enough to tell it is too big."""

    name: str
    declared_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class CheckedFile:
    name: str
    content_type: str  # as read from the content
    content: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.content)


def sniff(content: bytes) -> str | None:
    """The allowed type ``content`` is, by its first bytes; None for anything else."""
    for content_type, prefixes in MAGIC.items():
        if content.startswith(prefixes):
            return content_type
    return None


def clean_name(name: str) -> str:
    """The file's base name, without directories, control characters or surrounding blanks.

    Non-ASCII names arrive raw (browsers) or percent-encoded (RFC 7578 §4.2 allows it; aiohttp does it):
    both end up as the same text.
    """
    if "%" in name:
        with contextlib.suppress(UnicodeDecodeError):
            name = unquote(name, errors="strict")
    base = posixpath.basename(name.replace("\\", "/"))
    return "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()


def check_count(count: int, limits: UploadLimits) -> None:
    """Before reading any file: there must be some, and not too many."""
    if count == 0:
        raise InvalidInput("attach at least one file", "NO_FILES")
    if count > limits.max_files:
        raise InvalidInput(f"at most {limits.max_files} files per filing; {count} were sent", "TOO_MANY_FILES")


def check_files(files: list[IncomingFile], limits: UploadLimits) -> list[CheckedFile]:
    """The files, checked in order; the first problem raises :class:`InvalidInput` naming the file."""
    check_count(len(files), limits)
    checked: list[CheckedFile] = []
    total = 0
    for number, incoming in enumerate(files, start=1):
        name = clean_name(incoming.name)
        if not name:
            raise InvalidInput(f"file {number} has no name", "FILE_NAME_MISSING", incoming.name)
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidInput(
                f"the name of file {number} is longer than {MAX_NAME_LENGTH}", "FILE_NAME_TOO_LONG", name
            )
        checked.append(_check_one(name, incoming, limits))
        total += checked[-1].size
        if total > limits.max_total_bytes:
            raise InvalidInput(
                f"{name}: the files together exceed {_mb(limits.max_total_bytes)}", "FILES_TOO_LARGE", name
            )
    return checked


def _check_one(name: str, incoming: IncomingFile, limits: UploadLimits) -> CheckedFile:
    content = incoming.content
    if not content:
        raise InvalidInput(f"{name} is empty", "FILE_EMPTY", name)
    if len(content) > limits.max_file_bytes:
        raise InvalidInput(f"{name} is larger than {_mb(limits.max_file_bytes)}", "FILE_TOO_LARGE", name)
    detected = sniff(content)
    if detected is None:
        raise InvalidInput(f"{name} is not a {ALLOWED_NAMES} file (checked by its content)", "FILE_TYPE", name)
    declared = incoming.declared_type.split(";")[0].strip().lower()
    declared = ALIASES.get(declared, declared)
    if declared not in GENERIC_TYPES and declared != detected:
        raise InvalidInput(f"{name} is declared as {declared} but its content is {detected}", "FILE_TYPE", name)
    return CheckedFile(name, detected, content, hashlib.sha256(content).hexdigest())


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"
