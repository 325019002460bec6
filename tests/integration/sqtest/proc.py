"""Small helpers the fixtures share for the processes they start."""
import subprocess


def stop(proc, timeout=15):
    """SIGTERM, then SIGKILL if proc has not exited within timeout s."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def read_text(path):
    """The file's text, or "" when it cannot be read (yet)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""
