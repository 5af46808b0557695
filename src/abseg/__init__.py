"""abseg: keep AB Tasty FE&R -> Segment forwarding safe and checkable.

The core (everything outside ``abseg.cli``) knows nothing of the terminal and imports neither
Typer nor Rich, so it can be used from scripts and tested on its own.
"""

__version__ = "0.1.0"
