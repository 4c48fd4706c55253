"""The ``archdsl`` command and ``python -m archdsl``.

Ctrl-C is one line and exit code 130 at any moment, also while the compiler is still
being imported, which is why this module imports nothing of archdsl before ``main``.
"""

import gc
import signal
import sys


def main() -> int:
    try:
        gc.disable()  # imports make many objects and no garbage: collecting while they run only walks them
        from archdsl.cli import main as run

        gc.freeze()  # nor need later collections walk them
        gc.enable()
        code = run()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the work is done: a late Ctrl-C cannot undo it at exit
        gc.freeze()  # nor need what it made be walked once more, by the collection at exit, to free nothing
        return code
    except KeyboardInterrupt:
        print("archdsl: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # Ctrl-C inside an import's class creation: Python 3.11 wraps it in RuntimeError
        if not _interrupted(error):
            raise
        print("archdsl: interrupted", file=sys.stderr)
        return 130


def _interrupted(error: BaseException | None) -> bool:
    """Whether ``error`` was caused by a KeyboardInterrupt, however wrapped."""
    while error is not None:
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__cause__ or error.__context__
    return False


if __name__ == "__main__":
    sys.exit(main())
