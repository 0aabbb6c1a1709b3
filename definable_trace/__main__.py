"""`python -m definable_trace`: the `deftrace` CLI, for when the console script is not on PATH.

The library never imports its CLI otherwise; this module is only the `-m` entry point, which
Python looks for in the package itself, so it is the one place where the dependency points from
the library to `deftrace_cli` (installed from the same distribution).
"""

from deftrace_cli import main

if __name__ == "__main__":
    main()
