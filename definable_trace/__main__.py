"""`python -m definable_trace`: the `deftrace` CLI, for when the console script is not on PATH.

The library never imports its CLI otherwise; this module is only the `-m` entry point, which
Python looks for in the package itself, so it is the one place where the dependency points from
the library to `deftrace_cli` (installed from the same distribution).
"""

# mypy checks the CLI under its directory name (`cli`); the installed name is `deftrace_cli`.
from deftrace_cli import main  # type: ignore[import-not-found,unused-ignore]

if __name__ == "__main__":
    main()
