"""Render one part of a score on one General MIDI instrument with FluidSynth.

Parts are rendered separately (a full render differs from the sum of part renders by
69-76 dB SNR), so the mix is defined as the sum of the stems. Soundfonts come from Debian
(fluid-soundfont-gm, timgm6mb-soundfont); MuseScore General is reserved for evaluation.
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np

from msvae import audio
from msvae.corpus.proc import run_bounded
from msvae.corpus.scores import Note

SOUNDFONTS = {
    "fluidr3": "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "timgm6mb": "/usr/share/sounds/sf2/TimGM6mb.sf2",
}
RESERVED_SOUNDFONTS = ("MuseScore_General",)
# General MIDI programs (0-based) that suit sustained polyphonic lines; name -> program.
INSTRUMENTS = {
    "piano": 0, "harpsichord": 6, "organ": 19, "reed-organ": 20, "accordion": 21,
    "nylon-guitar": 24, "violin": 40, "viola": 41, "cello": 42, "contrabass": 43,
    "strings": 48, "trumpet": 56, "trombone": 57, "tuba": 58, "horn": 60, "oboe": 68,
    "english-horn": 69, "bassoon": 70, "clarinet": 71, "flute": 73, "recorder": 74,
}
RENDER_RATE = 44100  # Hz, every stem is rendered and mixed at this rate
_TICKS = 1000  # ticks per quarter note; with 1 s per quarter a tick is 1 ms


def _varlen(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_bytes(notes: tuple[Note, ...], program: int, velocity: int = 90) -> bytes:
    """A format-0 Standard MIDI File playing `notes` (times in seconds) on `program`."""
    events = []  # (tick, order, bytes): note-offs sort before note-ons at the same tick
    for n in notes:
        on, off = round(n.start * _TICKS), round((n.start + n.duration) * _TICKS)
        events.append((on, 1, bytes([0x90, n.pitch, velocity])))
        events.append((max(off, on + 1), 0, bytes([0x80, n.pitch, 0])))
    track = bytearray(b"\x00\xff\x51\x03" + (1_000_000).to_bytes(3, "big"))  # 1 s/quarter
    track += b"\x00" + bytes([0xC0, program])
    now = 0
    for tick, _, data in sorted(events):
        track += _varlen(tick - now) + data
        now = tick
    track += b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, _TICKS)
            + b"MTrk" + struct.pack(">I", len(track)) + bytes(track))


def render(notes: tuple[Note, ...], program: int, soundfont: str, seconds: float, *,
           timeout_s: float, max_bytes: int) -> np.ndarray:
    """FluidSynth render -> [2, samples] float32 at RENDER_RATE, exactly `seconds` long."""
    if any(r in soundfont for r in RESERVED_SOUNDFONTS):
        raise ValueError(f"{soundfont}: reserved for the evaluation corpus")
    with tempfile.TemporaryDirectory(prefix="msvae-render-") as tmp:
        mid, wav = Path(tmp, "part.mid"), Path(tmp, "part.wav")
        mid.write_bytes(midi_bytes(notes, program))
        run_bounded(["fluidsynth", "-n", "-i", "-q", "-g", "0.6", "-r", str(RENDER_RATE),
                     "-O", "float", "-T", "wav", "-F", str(wav), soundfont, str(mid)],
                    timeout_s=timeout_s, max_bytes=max_bytes)
        x, sr = audio.decode(wav.read_bytes())
    return audio.fit_length(audio.to_channels(audio.resample(x, sr, RENDER_RATE), 2),
                            round(seconds * RENDER_RATE))
