"""What a person opens: generations written to folders, piano rolls, spectrograms, videos, scores, galleries, notebook display."""
