"""The event rows a render plays, shared by both synths (FluidSynth in ``render``, the NumPy one in ``sf2player``).

A render turns a score into an ``(n, 5)`` int64 array ``[sample, kind, channel, a, b]``: note on (a = pitch,
b = velocity), note off, control change (a = controller, b = value) or pitch bend (a = value, -8192..8191).
"""

_PROGRAM, _CONTROL, _BEND, _OFF, _ON = 0, 1, 2, 3, 4  # sort order at equal times: offs before ons
DRUM_CHANNEL = 9  # "channel 10" counted from 1
DRUM_BANK = 128  # General MIDI's drum kits live in bank 128
