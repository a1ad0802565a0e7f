"""Music types: notes, melodies with Magenta's event semantics, MIDI I/O, corpora and primers."""
