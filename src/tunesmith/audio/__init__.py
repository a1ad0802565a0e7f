"""Sound in and out: reading and writing audio files, synthesis from a SoundFont, transcription of a recording to notes."""
