"""`models download`: the only code in FaceSwapLab that touches the network.

Why it is careful: an interrupted or wrong download that lands under the real name is worse
than none (it fails later with an obscure error, and old tools then trusted it). So every
transfer streams into a hidden temp file next to its destination, is checked for length
(a cut-off transfer), size and sha256 (when published), and only then is renamed into place
with os.replace (`durable.atomic_write`). On any failure the temp file is removed and
whatever was at the destination before is left exactly as it was.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Sequence

from .. import __version__
from ..durable import atomic_write, temp_path_for, unlink_quiet
from ..errors import DownloadError, OptionsError
from .registry import ArchiveSpec, ModelSpec
from .store import CORRUPT, MISSING, ModelStore

_CHUNK = 1 << 20
BarFactory = Callable[["int | None", str], Any]  # progress=True (tqdm), False, or (total, label) -> .update(n)/.close()
_USER_AGENT = f"FaceSwapLab/{__version__} (+models download)"

DOWNLOADED = "downloaded"
PRESENT = "present"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True)
class DownloadResult:
    name: str
    path: Path
    state: str  # downloaded | present | failed | skipped
    message: str
    sha256: str | None = None
    size: int | None = None

    @property
    def ok(self) -> bool:
        return self.state in (DOWNLOADED, PRESENT)


# --- one file ---------------------------------------------------------------------------------


def _check_url(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise DownloadError(f"refusing to download from {url!r}: only http(s) URLs are allowed")


def _open(url: str, timeout: float, opener: Any) -> Any:
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if opener is None:
        opener = urllib.request.build_opener()
    if callable(getattr(opener, "open", None)):
        return opener.open(req, timeout=timeout)
    return opener(req, timeout=timeout)


def _content_length(resp: Any) -> int | None:
    value = resp.headers.get("Content-Length") if getattr(resp, "headers", None) is not None else None
    try:
        n = int(value) if value is not None else None
    except ValueError:
        return None
    return n if n is not None and n >= 0 else None


def _progress_bar(total: int | None, desc: str, enabled: bool | BarFactory) -> Any:
    if callable(enabled):  # the caller draws it (first_run: gr.Progress, a job state, tqdm)
        return enabled(total, desc)
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # a progress bar is a nicety, not a requirement
        return None
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=True)


def _stream(resp: Any, out: Any, expected_len: int | None, bar: Any) -> tuple[int, str]:
    """Copy the body into `out`, returning (bytes, sha256). Stops reading past what the
    server announced so a lying server cannot fill the disk."""
    h = hashlib.sha256()
    received = 0
    while True:
        chunk = resp.read(_CHUNK)
        if not chunk:
            break
        received += len(chunk)
        if expected_len is not None and received > expected_len:
            raise DownloadError(f"the server sent more than the {expected_len} bytes it announced")
        h.update(chunk)
        out.write(chunk)
        if bar is not None:
            bar.update(len(chunk))
    return received, h.hexdigest()


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    size: int | None = None,
    progress: bool | BarFactory = True,
    timeout: float = 60,
    opener: Any = None,
    desc: str | None = None,
) -> str:
    """Fetch `url` to `dest` atomically and return the sha256 of what landed.

    Raises DownloadError on a network error, an HTTP error, a cut-off transfer (fewer bytes
    than Content-Length or than the published size) or a checksum mismatch; the temp file is
    then removed and an existing file at `dest` is untouched."""
    _check_url(url)
    dest = Path(dest)
    label = desc or dest.name
    created = _first_missing_ancestor(dest.parent)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create {dest.parent} for {label}: {e.strerror or e}") from None
    bar = None
    landed = False
    digest = ""
    moving = False  # the transfer is complete and checked: only the rename is left

    def receive(out: BinaryIO) -> None:
        nonlocal digest, moving
        try:
            received, digest = _stream(resp, out, announced, bar)
        except (OSError, http.client.HTTPException, socket.timeout) as e:
            raise DownloadError(f"{label}: transfer from {url} failed ({e})") from None
        if announced is not None and received != announced:
            raise DownloadError(f"{label}: transfer cut off after {received} of {announced} bytes from {url}")
        if size is not None and received != size:
            raise DownloadError(f"{label}: got {received} bytes from {url}, the published file has {size}")
        if sha256 and digest != sha256.lower():
            raise DownloadError(f"{label}: checksum mismatch for {url}: expected sha256 {sha256}, got {digest}")
        moving = True

    try:
        try:
            resp = _open(url, timeout, opener)
        except urllib.error.HTTPError as e:
            raise DownloadError(f"{label}: {url} answered HTTP {e.code} {e.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", None) or e
            raise DownloadError(f"{label}: cannot reach {url} ({reason})") from None
        with resp:
            final_url = resp.geturl() if callable(getattr(resp, "geturl", None)) else url
            _check_url(final_url)  # a redirect must not leave http(s)
            announced = _content_length(resp)
            if size is not None and announced is not None and announced != size:
                raise DownloadError(
                    f"{label}: {url} announces {announced} bytes, the published file has {size}; not downloaded"
                )
            bar = _progress_bar(announced or size, label, progress)
            try:
                atomic_write(dest, receive, make_parents=False)
            except OSError as e:
                if moving:
                    raise DownloadError(f"{label}: cannot move the download into {dest}: {e.strerror or e}") from None
                raise DownloadError(f"{label}: transfer from {url} failed ({e})") from None
        landed = True
        return digest
    finally:
        if bar is not None:
            bar.close()
        if not landed and created is not None:
            _remove_empty_dirs(dest.parent, created)


def _first_missing_ancestor(folder: Path) -> Path | None:
    """The outermost folder that mkdir(parents=True) would create (None if it exists)."""
    missing = None
    for p in [folder, *folder.parents]:
        if p.exists():
            break
        missing = p
    return missing


def _remove_empty_dirs(folder: Path, stop: Path) -> None:
    """Undo the folders a failed download created, innermost first, only while empty."""
    p = folder
    while True:
        try:
            p.rmdir()
        except OSError:
            return
        if p == stop or p.parent == p:
            return
        p = p.parent


# --- archives -----------------------------------------------------------------------------------


def _find_member(zf: zipfile.ZipFile, filename: str) -> zipfile.ZipInfo | None:
    """The zip entry whose last path component is `filename` (shallowest first). Matching on
    the name only means the entry's own path is never used to build an output path."""
    hits = [i for i in zf.infolist() if not i.is_dir() and i.filename.replace("\\", "/").rsplit("/", 1)[-1] == filename]
    hits.sort(key=lambda i: i.filename.count("/"))
    return hits[0] if hits else None


def extract_member(zf: zipfile.ZipFile, spec: ModelSpec, dest: Path) -> str:
    """Extract the member for `spec` into `dest` through a temp file, checking size and sha256."""
    info = _find_member(zf, spec.filename)
    if info is None:
        raise DownloadError(f"{spec.name}: not found in the archive")
    if spec.size is not None and info.file_size != spec.size:
        raise DownloadError(f"{spec.name}: the archive holds {info.file_size} bytes, the published file has {spec.size}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = ""

    def extract(out: BinaryIO) -> None:
        nonlocal digest
        h = hashlib.sha256()
        written = 0
        try:
            with zf.open(info) as src:
                while True:
                    chunk = src.read(_CHUNK)
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > info.file_size:  # never trust a member to stop where it says
                        raise DownloadError(f"{spec.name}: archive member is larger than declared")
                    h.update(chunk)
                    out.write(chunk)
        except (OSError, zipfile.BadZipFile, EOFError, RuntimeError) as e:
            raise DownloadError(f"{spec.name}: cannot extract from the archive ({e})") from None
        digest = h.hexdigest()
        if written != info.file_size:
            raise DownloadError(f"{spec.name}: archive member truncated ({written} of {info.file_size} bytes)")
        if spec.sha256 and digest != spec.sha256.lower():
            raise DownloadError(f"{spec.name}: checksum mismatch in the archive: expected sha256 {spec.sha256}, got {digest}")

    try:
        atomic_write(dest, extract, make_parents=False)
    except OSError as e:
        raise DownloadError(f"{spec.name}: cannot extract from the archive ({e})") from None
    return digest


def _download_archive(
    store: ModelStore, archive: ArchiveSpec, specs: Sequence[ModelSpec], *, progress: Any, timeout: float, opener: Any
) -> dict[str, DownloadResult]:
    """Fetch the zip once into the models dir, extract the wanted members, delete the zip."""
    folder = store.models_dir / archive.folder
    created = _first_missing_ancestor(folder)
    zip_path = temp_path_for(folder / archive.name)
    results: dict[str, DownloadResult] = {}
    try:
        download_file(
            archive.url, zip_path, sha256=archive.sha256, size=archive.size,
            progress=progress, timeout=timeout, opener=opener, desc=archive.name,
        )
        try:
            zf = zipfile.ZipFile(zip_path)
        except (zipfile.BadZipFile, OSError) as e:
            raise DownloadError(f"{archive.name}: not a readable zip ({e})") from None
        with zf:
            for spec in specs:
                dest = store.path_for(spec.name)
                try:
                    digest = extract_member(zf, spec, dest)
                except DownloadError as e:
                    results[spec.name] = DownloadResult(spec.name, dest, FAILED, str(e))
                    continue
                store.record_digest(dest, digest)
                results[spec.name] = DownloadResult(
                    spec.name, dest, DOWNLOADED, f"extracted from {archive.name}", digest, dest.stat().st_size
                )
    except DownloadError as e:
        for spec in specs:
            results.setdefault(spec.name, DownloadResult(spec.name, store.path_for(spec.name), FAILED, str(e)))
    finally:
        unlink_quiet(zip_path)
        if created is not None and not any(r.ok for r in results.values()):
            _remove_empty_dirs(folder, created)
    return results


# --- what `models download` does ----------------------------------------------------------------


def _targets(store: ModelStore, names: Iterable[str] | None) -> list[ModelSpec]:
    if names is None:
        return [s for s in store.specs if s.required]
    out: list[ModelSpec] = []
    for name in names:
        spec = store.spec_for(name)
        if spec is None:
            known = ", ".join(s.name for s in store.specs)
            raise OptionsError(f"unknown model {name!r}; known models: {known}")
        if spec not in out:
            out.append(spec)
    return out


def download_missing(
    store: ModelStore,
    names: Iterable[str] | None = None,
    *,
    progress: bool | BarFactory = True,
    timeout: float = 60,
    opener: Any = None,
    log: Callable[[str], None] | None = None,
) -> list[DownloadResult]:
    """Fetch the known files that are missing or corrupt (all required ones, or `names`).

    Usable files (verified or custom) are left alone. Files that come in an archive are taken
    from one download of it; any that fail there are tried from their own URL. A failure is
    reported in its result (state 'failed'), never half-written to disk."""
    specs = _targets(store, names)
    results: dict[str, DownloadResult] = {}
    todo: list[ModelSpec] = []
    for spec in specs:
        st = store.status(spec.name)
        if st.usable:
            results[spec.name] = DownloadResult(spec.name, st.path, PRESENT, f"already {st.state}", st.sha256, st.size)
        elif st.state in (MISSING, CORRUPT):
            if st.state == CORRUPT and log:
                log(f"{spec.name}: {st.reason}; fetching a fresh copy")
            todo.append(spec)

    by_archive: dict[str, list[ModelSpec]] = {}
    for spec in todo:
        arch = _archive(store, spec.archive)
        if arch is not None:
            by_archive.setdefault(arch.name, []).append(spec)
    for arch_name, members in by_archive.items():
        arch = _archive(store, arch_name)
        assert arch is not None
        if log:
            log(f"fetching {arch.name} for {', '.join(s.filename for s in members)}")
        for name, res in _download_archive(store, arch, members, progress=progress, timeout=timeout, opener=opener).items():
            results[name] = res

    for spec in todo:
        previous = results.get(spec.name)
        if previous is not None and previous.ok:
            continue
        results[spec.name] = _download_one(store, spec, previous, progress=progress, timeout=timeout, opener=opener)
        if log:
            log(f"{spec.name}: {results[spec.name].state} ({results[spec.name].message})")
    return [results[s.name] for s in specs if s.name in results]


def _archive(store: ModelStore, name: str | None) -> ArchiveSpec | None:
    if not name:
        return None
    for arch in store.archives:
        if arch.name == name:
            return arch
    return None


def _download_one(
    store: ModelStore, spec: ModelSpec, previous: DownloadResult | None, *, progress: Any, timeout: float, opener: Any
) -> DownloadResult:
    dest = store.path_for(spec.name)
    if not spec.url:
        msg = previous.message if previous else f"no download source is known for {spec.name}"
        return DownloadResult(spec.name, dest, FAILED if previous else SKIPPED, msg)
    try:
        digest = download_file(
            spec.url, dest, sha256=spec.sha256, size=spec.size, progress=progress,
            timeout=timeout, opener=opener, desc=spec.filename,
        )
    except DownloadError as e:
        msg = str(e) if previous is None else f"{previous.message}; then {e}"
        return DownloadResult(spec.name, dest, FAILED, msg)
    store.record_digest(dest, digest)
    return DownloadResult(spec.name, dest, DOWNLOADED, f"from {spec.url}", digest, dest.stat().st_size)


def raise_for_failures(results: Sequence[DownloadResult]) -> None:
    """One DownloadError summarising every failed file (for callers that want an exception)."""
    failed = [r for r in results if r.state == FAILED]
    if failed:
        raise DownloadError("; ".join(r.message for r in failed))
