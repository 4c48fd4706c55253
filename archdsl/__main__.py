"""The ``archdsl`` command and ``python -m archdsl``.

Ctrl-C is one line and exit code 130 at any moment, also while the compiler is still
being imported, which is why this module imports nothing of archdsl before ``main``.
"""

import signal
import sys


def main() -> int:
    try:
        from archdsl.cli import main as run

        code = run()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the work is done: a late Ctrl-C cannot undo it at exit
        return code
    except KeyboardInterrupt:
        print("archdsl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
