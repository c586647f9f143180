"""A real singing voice for one part: Festival's singing mode (text2wave -mode singing).

Festival sings a note per syllable at `<PITCH FREQ=Hz>` for `<DURATION BEATS=b>`; with
BPM="50" one beat lasts one second (checked on Debian's festival 2.5), so beats are
seconds here. Festival crashes above about 600 Hz, so a line is moved down by octaves
until its top note is at most MAX_HZ. espeak-ng only speaks, so it is not used.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from msvae import audio
from msvae.corpus.proc import run_bounded
from msvae.corpus.render import RENDER_RATE
from msvae.corpus.scores import Note

MAX_HZ = 580.0
SYLLABLES = ("la", "lo", "ma", "no", "ah", "oh", "do", "na")
_HEADER = ('<?xml version="1.0"?>\n<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up'
           '//EN" "Singing.v0_1.dtd" []>\n<SINGING BPM="50">\n')
_MIN_REST_S = 0.005


def midi_hz(pitch: float) -> float:
    return 440.0 * 2 ** ((pitch - 69) / 12)


def singable(notes: tuple[Note, ...]) -> tuple[Note, ...]:
    """The line moved down by whole octaves until its top note is at most MAX_HZ."""
    top = max(n.pitch for n in notes)
    octaves = 0
    while midi_hz(top - 12 * octaves) > MAX_HZ:
        octaves += 1
    return tuple(Note(n.start, n.duration, n.pitch - 12 * octaves) for n in notes)


def score_xml(notes: tuple[Note, ...], syllables: tuple[str, ...] = SYLLABLES) -> str:
    """Festival singing markup for `notes` (seconds), rests where the line is silent."""
    lines, now = [_HEADER], 0.0
    for i, n in enumerate(notes):
        if n.start - now > _MIN_REST_S:
            lines.append(f'<REST BEATS="{n.start - now:.3f}"></REST>\n')
        word = escape(syllables[i % len(syllables)])
        lines.append(f'<PITCH FREQ="{midi_hz(n.pitch):.2f}"><DURATION BEATS="'
                     f'{n.duration:.3f}">{word}</DURATION></PITCH>\n')
        now = max(now, n.start + n.duration)
    lines.append("</SINGING>\n")
    return "".join(lines)


def sing(notes: tuple[Note, ...], seconds: float, syllables: tuple[str, ...], *,
         timeout_s: float, max_bytes: int) -> np.ndarray:
    """Festival sings `notes` -> [1, samples] float32 at RENDER_RATE, `seconds` long."""
    with tempfile.TemporaryDirectory(prefix="msvae-sing-") as tmp:
        xml, wav = Path(tmp, "line.xml"), Path(tmp, "line.wav")
        xml.write_text(score_xml(singable(notes), syllables))
        run_bounded(["text2wave", "-mode", "singing", str(xml), "-o", str(wav)],
                    timeout_s=timeout_s, max_bytes=max_bytes)
        x, sr = audio.decode(wav.read_bytes())
    return audio.fit_length(audio.to_channels(audio.resample(x, sr, RENDER_RATE), 1),
                            round(seconds * RENDER_RATE))
