"""The drill's terminal: cbreak mode, resize and Ctrl-Z signals, and handing the terminal to $EDITOR."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from typing import ClassVar


class KeyboardMode:
    """Cbreak mode for the whole drill: keys arrive one at a time and none typed early are lost.

    TCSANOW (not tty's default TCSAFLUSH) keeps keys pressed while a screen was still drawing.
    `KeyboardMode.current` is the mode in force, so that an editor can be given the terminal as the
    drill found it (see `run_editor`).
    """

    current: ClassVar["KeyboardMode | None"] = None

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved: list | None = None
        self.cbreak: list | None = None  # the mode set, to put back whole after an editor or Ctrl-Z

    def __enter__(self) -> "KeyboardMode":
        import termios
        import tty

        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)
        self.cbreak = termios.tcgetattr(self.fd)
        KeyboardMode.current = self
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()
        if KeyboardMode.current is self:
            KeyboardMode.current = None

    def restore(self) -> None:
        import termios

        if self.saved is not None:
            termios.tcsetattr(self.fd, termios.TCSANOW, self.saved)

    def resume(self) -> None:
        """The drill's mode again, whole: an editor that died in raw mode left signals and output processing
        off, which cbreak mode set on top of it would keep."""
        import termios

        if self.cbreak is not None:
            termios.tcsetattr(self.fd, termios.TCSANOW, self.cbreak)


class TerminalSignals:
    """While the drill runs: a resize (SIGWINCH) or a resume after Ctrl-Z (SIGCONT) writes to a pipe the
    key reader selects on, so the screen is redrawn; Ctrl-Z (SIGTSTP) gives the terminal back its own
    mode before the process stops, and SIGCONT puts cbreak mode back. Handlers only set state and
    write a byte: the drawing happens in the drill's loop."""

    def __init__(self, mode: KeyboardMode | None) -> None:
        self.mode = mode
        self.read_fd = self.write_fd = -1
        self.saved: dict = {}

    def __enter__(self) -> "TerminalSignals":
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_blocking(self.write_fd, False)  # a handler must never block on a full pipe
        for signum, handler in ((signal.SIGWINCH, self._wake), (signal.SIGTSTP, self._stop),
                                (signal.SIGCONT, self._resume)):
            self.saved[signum] = signal.signal(signum, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)
        os.close(self.read_fd)
        os.close(self.write_fd)

    def _wake(self, *_: object) -> None:
        try:
            os.write(self.write_fd, b"!")
        except OSError:  # full: a redraw is already pending
            pass

    def _stop(self, *_: object) -> None:
        if self.mode is not None:
            self.mode.restore()  # the shell gets the terminal as it gave it
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # stops here; returns after SIGCONT (fg)
        signal.signal(signal.SIGTSTP, self._stop)
        self._resume()  # also when the stop was discarded (no job control: an orphaned process group)

    def _resume(self, *_: object) -> None:
        if self.mode is not None:
            self.mode.resume()
        self._wake()


def run_editor(arguments: list[str]) -> str:
    """Run $VISUAL or $EDITOR (else vi) on `arguments`; '' when it ran and succeeded, else why not.

    The editor gets the terminal as the drill found it (not the drill's cbreak mode), and Ctrl-Z in it
    stops the drill as well (the editor owns the terminal meanwhile); the drill's mode and signal
    handlers come back afterwards, whatever happened.
    """
    settings = [os.environ.get(name, "") for name in ("VISUAL", "EDITOR")]
    editor = next((value for value in settings if value.strip()), "")  # a blank VISUAL falls back to EDITOR
    if not editor:
        if any(settings):
            return "Could not start the editor: $EDITOR is blank"
        editor = "vi"
    try:
        command = shlex.split(editor)
    except ValueError as error:  # an unbalanced quote: the drill goes on with a message
        return f"Could not start the editor '{editor}': {error}"
    if not command:
        return "Could not start the editor: $EDITOR is blank"
    mode = KeyboardMode.current
    # Ctrl-C and Ctrl-\ reach the editor and the drill alike: they are the editor's keys (vim leaves insert
    # mode on Ctrl-C), so the drill lets them pass (a handler, not SIG_IGN, which the editor would inherit).
    handlers = {signal.SIGTSTP: signal.SIG_DFL, signal.SIGCONT: signal.SIG_DFL,
                signal.SIGINT: _editors_key, signal.SIGQUIT: _editors_key}
    saved = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        if mode is not None:
            mode.restore()
        status = subprocess.call([*command, *arguments])
    except OSError as error:
        return f"Could not start the editor '{editor}': {error.strerror}"
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        if mode is not None:
            mode.resume()
    # A failed editor (vim's :cq, a crash) leaves a half-written file: what it wrote is not taken as meant.
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:  # a real-time signal has no name
            name = f"signal {-status}"
        return f"The editor '{editor}' was killed ({name}); nothing was read from it"
    if status > 0:
        return f"The editor '{editor}' failed (exit status {status}); nothing was read from it"
    return ""


def _editors_key(*_: object) -> None:
    """Ctrl-C or Ctrl-\\ while the editor runs: the editor's to act on, not the drill's."""
