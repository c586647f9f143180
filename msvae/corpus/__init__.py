"""Multi-source corpora: the manifest every stage reads, and how corpora are made.

`manifest` defines the table (one row per source file); `build` renders the demo corpus
from real material in Debian packages and music21's scores; `importer` adopts a user's
own stems; `stats` summarises a manifest.
"""
