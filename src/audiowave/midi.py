"""pretty_midi, imported so that nothing it loads writes to stdout.

pretty_midi imports pyfluidsynth, which prints "'fluidsynth' was found at ..." to stdout when the ``CI``
environment variable is set; that line would corrupt ``audiowave analyze --json`` output.
"""

import contextlib
import io

with contextlib.redirect_stdout(io.StringIO()):
    import pretty_midi

__all__ = ["pretty_midi"]
