"""Music types, theory and file formats: melodies with Magenta event semantics, keys, meters, chords,
instruments, MIDI, ABC, MusicXML and primers. No torch, plots or synthesis here."""
