#!/usr/bin/env python3
"""pty-run.py PROGRAM ARGS...: run a program on a new pseudo-terminal, as `docker run -it`'s runtime does.

The child is a session leader with the terminal's slave side as its controlling terminal and as fds 0/1/2
(Python's pty.fork: setsid + TIOCSCTTY). What arrives on our stdin is typed into the terminal (so b'\\x03' is
^C, b'\\x1a' ^Z, b'\\x04' ^D at the start of a line); what the terminal prints (echo included, \\r\\n line
ends) comes out on our stdout. Our stdin reaching EOF types nothing. We exit with the child's status
(128+N when signal N killed it) once it has exited and the terminal has no writer left.
"""
import os
import pty
import select
import sys

pid, master = pty.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)

stdin_open = True
while True:
    watch = [master] + ([0] if stdin_open else [])
    ready, _, _ = select.select(watch, [], [])
    if 0 in ready:
        data = os.read(0, 4096)
        if not data:
            stdin_open = False
        else:
            while data:
                data = data[os.write(master, data):]
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every slave side is closed
            break
        if not data:
            break
        os.write(1, data)

_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
