"""Long library calls from Python (blip_finetune, blip_capfilt): argument checks that raise
BlipError instead of letting ctypes truncate values, and one way to run a call with progress
and abort callbacks."""
import ctypes
import os
import signal
import threading

from ._native import ABORT_CALLBACK, BlipError, check

BLIP_ERR_INVALID_ARGUMENT = -1


def _invalid(message):
    return BlipError(BLIP_ERR_INVALID_ARGUMENT, message)


def _int(name, value, low=-(2 ** 31), high=2 ** 31 - 1):
    if isinstance(value, bool) or not isinstance(value, int) and not hasattr(value, "__index__"):
        raise _invalid(f"{name} must be an integer, not {value!r}")
    value = int(value.__index__())
    if not low <= value <= high:
        raise _invalid(f"{name} must be between {low} and {high} (got {value})")
    return value


def _float(name, value):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} must be a number, not {value!r}") from None


def _path(name, value):
    if value is None:
        return None
    try:
        return os.fsencode(value)
    except TypeError:
        raise _invalid(f"{name} must be a path, not {value!r}") from None


def _text(name, value):
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string, not {value!r}")
    return value.encode("utf-8")


def default_params(function, struct, name):
    """The library's defaults for a params struct, refusing a library built with another layout."""
    p = function()
    if p.size != ctypes.sizeof(struct):
        raise BlipError(BLIP_ERR_INVALID_ARGUMENT, "this blip package does not match the loaded libblip "
                        f"({name} is {p.size} bytes there, {ctypes.sizeof(struct)} here)")
    return p


def run(function, params, callback_type, on_progress, report):
    """Calls `function(&params)` with `params.on_progress` calling `on_progress(report(contents))`
    and `params.should_abort` stopping the run once a callback raised. Exceptions from
    on_progress (and Ctrl-C) cannot cross the C frames: the first one is recorded, the library
    is told to stop, and it is re-raised here after the call returns."""
    raised = []

    def progress(c_progress, _user):
        if raised:
            return
        try:
            on_progress(report(c_progress.contents))
        except BaseException as e:  # noqa: B036 — KeyboardInterrupt too: it must stop the run
            raised.append(e)

    def should_abort(_user):
        return 1 if raised else 0

    # Keep the ctypes callback objects alive for the whole call.
    progress_cb = callback_type(progress) if on_progress is not None else callback_type()
    abort_cb = ABORT_CALLBACK(should_abort)
    params.on_progress = progress_cb
    params.should_abort = abort_cb
    # Ctrl-C: Python would raise KeyboardInterrupt at the first line of whichever callback runs
    # next, where ctypes can only print and drop it. Record it instead; the abort callback then
    # stops the run and it is re-raised below. (Only with Python's default handler installed.)
    previous = None
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous = signal.signal(signal.SIGINT, lambda *_: raised.append(KeyboardInterrupt()))
    try:
        status = function(ctypes.byref(params))
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if raised:
        raise raised[0]
    check(status)
