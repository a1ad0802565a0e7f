"""Corpus preparation: melodies from a folder of scores, split and encoded into shards (process/Ray engines, part store)."""
