"""Copy a local folder (your own stems, say) to any storage URI, keeping its layout.

Every file under the folder goes to `<dest>/<its relative path>` through msvae.storage,
so the embedded server, MinIO, AWS and local folders take the same command. A file that
cannot be read is named in one line and the others go on; a destination that cannot be
written stops the upload with one line naming it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from msvae import storage
from msvae.console import progress_bar
from msvae.errors import MsvaeError


class UploadError(MsvaeError):
    """Nothing to upload: the folder is missing, empty or wholly unreadable."""


@dataclass
class Uploaded:
    dest: str
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # "<path>: <reason>", one per file

    def describe(self) -> str:
        """One line for people: what went where, and what was skipped."""
        skipped = f"; {len(self.skipped)} skipped (named above)" if self.skipped else ""
        size = tqdm.format_sizeof(self.bytes, "B")
        return (f"uploaded {self.files} files ({size}) to {self.dest} in {self.seconds:.1f} s"
                f"{skipped}")


def local_files(folder: Path) -> tuple[list[Path], list[str]]:
    """Every regular file under `folder`, in sorted order, through symlinked folders too;
    and "<path>: <reason>" for each entry left out: a folder that cannot be listed, a link
    back to a folder it sits in (a loop), a broken link, a socket or pipe."""
    files, skipped = [], []

    def walk(path: Path, ancestors: frozenset) -> None:
        try:
            entries = sorted(path.iterdir())
        except OSError as exc:
            skipped.append(f"{path}: {exc.strerror or type(exc).__name__}")
            return
        for entry in entries:
            if entry.is_dir():
                real = entry.resolve()
                if real in ancestors:
                    skipped.append(f"{entry}: a link to a folder it is in (a loop)")
                else:
                    walk(entry, ancestors | {real})
            elif entry.is_file():
                files.append(entry)
            else:
                skipped.append(f"{entry}: " + ("a broken link" if entry.is_symlink()
                                                else "not a regular file"))

    walk(folder, frozenset({folder.resolve()}))
    return files, skipped


def upload_files(cfg, root: Path, paths: list[Path], dest: str) -> Uploaded:
    """Copy `paths` (under `root`) to `dest`, each at its path relative to `root`, with a
    progress bar in bytes; unreadable files are logged and counted in `skipped`."""
    started, done = time.monotonic(), Uploaded(dest)
    storage.ensure_bucket(cfg, dest)
    sizes = {path: _size(path) for path in paths}
    with progress_bar(total=sum(sizes.values()), desc=f"uploading to {dest}", unit="B",
                      unit_scale=True) as bar:
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                done.skipped.append(f"{path}: {exc.strerror or type(exc).__name__}")
                bar.write(f"skipped {done.skipped[-1]}")
                bar.update(sizes[path])
                continue
            storage.write_bytes(cfg, storage.join(dest, *path.relative_to(root).parts), data)
            done.files += 1
            done.bytes += len(data)
            bar.update(sizes[path])
    done.seconds = time.monotonic() - started
    return done


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def upload_folder(cfg, folder: str, dest: str) -> Uploaded:
    """Every file under the local `folder` to `dest` (an `s3://` prefix or a folder)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UploadError(f"{folder}: no such folder")
    paths, skipped = local_files(root)
    for line in skipped:
        print(f"skipped {line}")
    if not paths:
        raise UploadError(f"{folder}: no files to upload")
    done = upload_files(cfg, root, paths, dest)
    done.skipped[:0] = skipped
    if done.files == 0:
        raise UploadError(f"{folder}: none of its {len(paths)} files could be read")
    return done
