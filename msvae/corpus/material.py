"""Real recordings shipped in Debian packages: environmental sound and recorded music.

- megaglest-data (CC-BY-SA-3.0): per-tileset ambience (birds, crickets, rain, wind, night)
  and animal calls; many tilesets share files through symlinks or copies, so recordings are
  de-duplicated by content. Its faction and menu music tracks are real recorded mixes.
- openttd-opensfx (CC-BY-3.0 / CC0 files, CC-BY-SA-3.0 as a collection): short recorded
  effects packed in one catalogue file, opensfx.cat (see `opensfx_sounds`).
Packages reserved for the evaluation corpus (RESERVED_PACKAGES) are never read.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import soundfile as sf

MEGAGLEST = Path("/usr/share/games/megaglest")
OPENSFX_CATALOGUE = Path("/usr/share/games/openttd/baseset/opensfx/opensfx.cat")
RESERVED_PACKAGES = ("wesnoth", "colobot", "asterisk", "ufoai", "singularity")
BED_MIN_S = 8.0  # recordings at least this long are beds; shorter ones are events
_AUDIO = (".ogg", ".wav")


@dataclass(frozen=True)
class Recording:
    """One real recording: a stable name, where its bytes are, and its length in seconds."""

    name: str
    path: str
    seconds: float
    offset: int = 0  # byte offset of the sound inside `path` (catalogues)
    size: int = -1  # byte count; -1: the whole file

    def read(self) -> bytes:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            return fh.read(self.size)


def _allowed(path: Path) -> bool:
    return not any(p in str(path).lower() for p in RESERVED_PACKAGES)


def _unique(paths: list[Path], name_of) -> list[Recording]:
    """One Recording per distinct recording, sorted by name.

    Copies, symlinks and re-encodes of one recording (two tilesets ship the same wind at
    different bit rates) share their exact frame count, rate and channels: that is the key.
    """
    by_key: dict[tuple, Recording] = {}
    for path in sorted(paths):
        if not _allowed(path):
            continue
        info = sf.info(str(path))
        rec = Recording(name_of(path), str(path.resolve()), info.duration)
        key = (info.frames, info.samplerate, info.channels)
        if key not in by_key or rec.name < by_key[key].name:
            by_key[key] = rec
    return sorted(by_key.values(), key=lambda r: r.name)


@lru_cache(maxsize=1)
def tileset_sounds() -> tuple[Recording, ...]:
    """megaglest-data's tileset recordings, de-duplicated; () when not installed."""
    paths = [p for p in MEGAGLEST.glob("tilesets/*/sounds/*") if p.suffix.lower() in _AUDIO]
    return tuple(_unique(paths, lambda p: f"{p.parts[-3]}-{p.stem}".lower()))


@lru_cache(maxsize=1)
def music_tracks() -> tuple[Recording, ...]:
    """megaglest-data's recorded music (menu and faction tracks); () when not installed."""
    paths = [p for p in MEGAGLEST.rglob("music/*") if p.suffix.lower() in _AUDIO]
    return tuple(_unique(paths, lambda p: p.stem.lower().replace("_", "-")))


@lru_cache(maxsize=1)
def opensfx_sounds() -> tuple[Recording, ...]:
    """The sounds in OpenSFX's catalogue; () when not installed.

    Layout (OpenTTD's sound loader): a table of (uint32 offset, uint32 size) pairs, the
    first offset (bit 31 masked) being the table's size; each entry is a length-prefixed
    name (which carries author and licence) followed by a complete RIFF WAVE file.
    """
    if not OPENSFX_CATALOGUE.is_file():
        return ()
    data = OPENSFX_CATALOGUE.read_bytes()
    count = (struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF) // 8
    found = []
    for i in range(count):
        offset, size = struct.unpack_from("<II", data, 8 * i)
        offset &= 0x7FFFFFFF
        name_len = data[offset]
        wav_at = offset + 1 + name_len
        wav_size = size - 1 - name_len
        try:
            seconds = sf.info(io.BytesIO(data[wav_at:wav_at + wav_size])).duration
        except sf.LibsndfileError:  # the empty 'Unused/Nothing' placeholders
            continue
        found.append(Recording(f"opensfx-{i:02d}", str(OPENSFX_CATALOGUE), seconds,
                               wav_at, wav_size))
    return tuple(found)


def beds() -> tuple[Recording, ...]:
    """Recordings long enough to carry a piece's ambience (looped where shorter)."""
    return tuple(r for r in tileset_sounds() if r.seconds >= BED_MIN_S)


def events() -> tuple[Recording, ...]:
    """Short recorded events sprinkled over a bed: animal calls, machines, weather."""
    return tuple(r for r in tileset_sounds() if r.seconds < BED_MIN_S) + opensfx_sounds()
