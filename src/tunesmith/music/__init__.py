"""Music types, theory and file formats: melodies with Magenta event semantics, keys, meters, chords, MIDI, ABC, MusicXML, primers."""
